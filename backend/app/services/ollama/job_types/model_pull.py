"""`model.pull`: download a model into Ollama, through the GPU slot like any job (so it never overlaps
a generation), with progress in bytes summed over the layers Ollama reports."""

from __future__ import annotations

from typing import Any

import ollama

from app.services.ollama.client import stream_json
from app.services.ollama.job_types.model_request import AdminOnly, ModelRequest, follow_status
from app.services.queue.errors import ModelNotFound
from app.services.queue.job_type import JobContext, JobType

UNKNOWN_MANIFEST = "file does not exist"  # Ollama's words, mid-stream, for a model the registry lacks


class PullRequest(ModelRequest):
    insecure: bool | None = None


class ModelPullJob(AdminOnly, JobType[PullRequest]):
    job_type = "model.pull"
    label = "Model download"
    operation = "Model Download"
    description = "Download a model into Ollama."
    result_kind = "model"
    submittable = False
    request_model = PullRequest

    async def run(self, ctx: JobContext, request: PullRequest) -> dict[str, Any]:
        body = {**request.model_dump(exclude_none=True), "stream": True}
        try:
            outcome = await follow_status(ctx, stream_json(ctx.ollama, "/api/pull", body))
        except ollama.ResponseError as error:
            if error.status_code == -1 and UNKNOWN_MANIFEST in error.error:  # no retry can find it
                raise ModelNotFound(f"Ollama answered 404: {error.error}") from error
            raise
        return {"model": request.model, **outcome}
