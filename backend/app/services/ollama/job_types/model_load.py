"""`model.load`: load a model into GPU memory ahead of use (Ollama's empty-prompt generate), through the
GPU slot, so a load never overlaps a generation."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.services.ollama.job_types.model_request import ModelRequest
from app.services.queue.job_type import JobContext, JobType


class LoadRequest(ModelRequest):
    keep_alive: float | str | None = Field(
        default=None, description='How long it stays loaded, e.g. "30m"; -1: forever.'
    )


class ModelLoadJob(JobType[LoadRequest]):
    job_type = "model.load"
    runs_model = True
    label = "Model load"
    operation = "Model Load"
    description = "Load a model into GPU memory."
    result_kind = "model"
    submittable = False
    request_model = LoadRequest

    async def run(self, ctx: JobContext, request: LoadRequest) -> dict[str, Any]:
        ctx.progress.update(message=f"loading {request.model}", percent=0)
        load: dict[str, Any] = {"model": request.model, "prompt": ""}
        if request.keep_alive is not None:
            load["keep_alive"] = request.keep_alive
        reply = await ctx.ollama.generate(**load)
        ctx.progress.update(message="loaded", percent=100)
        return {"model": request.model, "done_reason": reply.done_reason, "load_duration": reply.load_duration}
