"""`model.delete`: remove a model from Ollama's store (admins), as a job behind the slot, so it never
pulls a model from under a generation that is using it."""

from __future__ import annotations

from typing import Any

from app.services.ollama.job_types.model_request import AdminOnly, ModelRequest
from app.services.queue.job_type import JobContext, JobType


class ModelDeleteJob(AdminOnly, JobType[ModelRequest]):
    job_type = "model.delete"
    label = "Model deletion"
    operation = "Model Deletion"
    description = "Remove a model from Ollama."
    result_kind = "model"
    submittable = False
    request_model = ModelRequest

    async def run(self, ctx: JobContext, request: ModelRequest) -> dict[str, Any]:
        await ctx.ollama.delete(request.model)
        ctx.progress.update(message="deleted", percent=100)
        return {"model": request.model, "status": "success"}
