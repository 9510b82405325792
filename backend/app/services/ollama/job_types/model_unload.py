"""`model.unload`: free a model's GPU memory (Ollama's empty prompt with `keep_alive: 0`), through the
GPU slot like any job."""

from __future__ import annotations

from typing import Any

from app.services.ollama.job_types.model_request import ModelRequest
from app.services.queue.job_type import JobContext, JobType


class ModelUnloadJob(JobType[ModelRequest]):
    job_type = "model.unload"
    runs_model = True
    label = "Model unload"
    operation = "Model Unload"
    description = "Free a model's GPU memory."
    result_kind = "model"
    submittable = False
    request_model = ModelRequest

    async def run(self, ctx: JobContext, request: ModelRequest) -> dict[str, Any]:
        reply = await ctx.ollama.generate(model=request.model, prompt="", keep_alive=0)
        ctx.progress.update(message="unloaded", percent=100)
        return {"model": request.model, "done_reason": reply.done_reason}
