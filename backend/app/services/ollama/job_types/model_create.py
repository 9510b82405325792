"""`model.create`: make a model in Ollama from another one, uploaded files (GGUF, safetensors, an
adapter) or a template and parameters (admins). Creating may quantize and loads weights: a job
through the GPU slot, like every model operation."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from app.services.ollama.client import stream_json
from app.services.ollama.job_types.model_request import AdminOnly, ModelRequest, follow_status
from app.services.queue.job_type import JobContext, JobType


class CreateRequest(ModelRequest):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(default=None, alias="from", description="The model to start from.")
    files: dict[str, str] | None = Field(default=None, description="File name → blob digest (POST /api/blobs).")
    adapters: dict[str, str] | None = None
    template: str | None = None
    license: str | list[str] | None = None
    system: str | None = None
    parameters: dict[str, Any] | None = None
    messages: list[dict[str, Any]] | None = None
    quantize: str | None = None


class ModelCreateJob(AdminOnly, JobType[CreateRequest]):
    job_type = "model.create"
    label = "Model creation"
    operation = "Model Creation"
    description = "Create a model from another, from uploaded files, or with a new template and parameters."
    result_kind = "model"
    submittable = False
    request_model = CreateRequest

    async def run(self, ctx: JobContext, request: CreateRequest) -> dict[str, Any]:
        body = {**request.model_dump(exclude_none=True, by_alias=True), "stream": True}
        return {"model": request.model, **await follow_status(ctx, stream_json(ctx.ollama, "/api/create", body))}
