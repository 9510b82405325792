"""`model.copy`: copy a model under a new name in Ollama's store (admins), as a job behind the slot like
every change to the models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.services.ollama.job_types.model_request import AdminOnly
from app.services.ollama.names import ValidModelName
from app.services.queue.job_type import JobContext, JobType


class CopyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: ValidModelName = Field(min_length=1, max_length=300, description="The model to copy.")
    destination: ValidModelName = Field(min_length=1, max_length=300, description="Its new name.")


class ModelCopyJob(AdminOnly, JobType[CopyRequest]):
    job_type = "model.copy"
    label = "Model copy"
    operation = "Model Copy"
    description = "Copy a model under a new name."
    result_kind = "model"
    submittable = False
    request_model = CopyRequest

    async def run(self, ctx: JobContext, request: CopyRequest) -> dict[str, Any]:
        await ctx.ollama.copy(request.source, request.destination)
        ctx.progress.update(message="copied", percent=100)
        return {"model": request.destination, "source": request.source, "status": "success"}
