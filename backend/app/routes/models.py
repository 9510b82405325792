"""Model management, `/api/v1/models`: what Ollama has and has loaded; load and unload as queued jobs
through the GPU slot (so a load never overlaps a generation); name checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.routes.deps import AdminUser, CurrentUser
from app.routes.jobs import queue_job
from app.schemas.jobs import JobResult, SubmitJob
from app.services.accounts.users import User
from app.services.leases import gpu
from app.services.ollama import models
from app.services.ollama import names as model_names
from app.services.queue import submissions
from app.services.queue.views import lock_view

router = APIRouter(prefix="/api/v1/models", tags=["models"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad token"},
    502: {"description": "Ollama is unreachable"},
}
Wait = Annotated[bool, Query(description="Wait for the job to end (up to MAX_WAIT_SECONDS) and return its result.")]


class LoadModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=300, examples=["tinyllama:latest"])
    keep_alive: float | str | None = Field(default=None, description='e.g. "30m"; -1 keeps it loaded.')


class ValidateName(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=400, examples=["hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"])


def check_name(name: str) -> str:
    return model_names.require_valid(name, field="name")


async def queue_model_job(request: Request, user: User, job_type: str, body: dict[str, Any], wait: bool) -> Any:
    settings = request.app.state.settings
    submitted = await queue_job(request, user, SubmitJob(job_type=job_type, request=body, details=body["model"]))
    job = submitted.job
    if wait:
        ended = await submissions.wait_for_end(request.app.state.db, job.id, settings.max_wait_seconds)
        if ended is not None:
            result = JobResult(
                job_id=ended.id, status=ended.status, result=ended.result_data, error_message=ended.error_message
            )
            return JSONResponse(result.model_dump(mode="json"), status_code=200)
    return JSONResponse(
        {
            "success": True,
            "job_id": str(job.id),
            "status": job.status,
            "message": f"{job_type} queued",
            "position": submitted.position,
        },
        status_code=status.HTTP_202_ACCEPTED,
    )


@router.get("", responses=ERRORS)
@router.get("/list", responses=ERRORS)
async def list_models(request: Request, _user: CurrentUser) -> dict[str, Any]:
    """Ollama's models, each with whether it is loaded now (and its VRAM use)."""
    found = await models.catalogue(request.app.state.ollama_http)
    return {"models": found, "count": len(found)}


@router.get("/resources", responses=ERRORS)
async def resources(request: Request, _user: CurrentUser) -> dict[str, Any]:
    """This process's memory and CPU, the loaded models with their VRAM, the model count, the GPU holder."""
    client = request.app.state.ollama_http
    loaded = await models.loaded(client)
    lock = await gpu.gpu_lock(request.app.state.db, gpu.GPU_POOL, request.app.state.settings.max_concurrent_jobs)
    return {
        "process": models.process_usage(),
        "loaded_models": [
            {
                "name": entry["name"],
                "size": entry.get("size"),
                "size_vram": entry.get("size_vram"),
                "expires_at": entry.get("expires_at"),
            }
            for entry in loaded
        ],
        "vram_bytes": sum(int(entry.get("size_vram") or 0) for entry in loaded),
        "model_count": len(await models.catalogue(client)),
        "gpu": lock_view(lock).model_dump(mode="json"),
    }


@router.post(
    "/validate-version",
    responses={401: {"description": "No or bad token"}, 422: {"description": "The name breaks a rule; which one"}},
)
async def validate_version(body: ValidateName, _user: CurrentUser) -> dict[str, Any]:
    """Check a model name against Ollama's rules: `[host/][namespace/]model[:tag]`."""
    name = model_names.parse(check_name(body.name))
    return {
        "valid": True,
        "name": body.name,
        "canonical": model_names.canonical(name),
        "host": name.host,
        "namespace": name.namespace,
        "model": name.model,
        "tag": name.tag,
    }


QUEUED_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad token"},
    404: {"description": "Ollama has no such model: pull it first"},
    200: {"description": "With ?wait=true: the job ended; its result"},
}


@router.post("/load", status_code=202, responses=QUEUED_ERRORS)
async def load(request: Request, user: CurrentUser, body: LoadModel, wait: Wait = False) -> Any:
    """Queue a `model.load` job (it waits for the GPU slot like any job); 404 at once for a model Ollama
    does not have."""
    await models.require_available(request.app.state.ollama_http, check_name(body.model))
    return await queue_model_job(request, user, "model.load", body.model_dump(exclude_none=True), wait)


@router.get("/{name:path}/status", responses={**ERRORS, 404: {"description": "Ollama has no such model"}})
async def model_status(request: Request, _user: CurrentUser, name: str) -> dict[str, Any]:
    """Available, loaded, size, size_vram, expires_at."""
    return await models.status(request.app.state.ollama_http, check_name(name))


@router.delete("/{name:path}/unload", status_code=202, responses=QUEUED_ERRORS)
async def unload(request: Request, user: AdminUser, name: str, wait: Wait = False) -> Any:
    """Admins (an unload affects everyone): queue a `model.unload` job (`keep_alive: 0`); 404 at once for a
    model Ollama does not have."""
    await models.require_available(request.app.state.ollama_http, check_name(name))
    return await queue_model_job(request, user, "model.unload", {"model": name}, wait)
