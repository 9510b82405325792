"""`model.push`: upload a model from Ollama to a registry (admins), as a job: it reads the model store
and the network for minutes, and shows in the queue and the lock like any model operation."""

from __future__ import annotations

from typing import Any

from app.services.ollama.client import stream_json
from app.services.ollama.job_types.model_request import AdminOnly, ModelRequest, follow_status
from app.services.queue.job_type import JobContext, JobType


class PushRequest(ModelRequest):
    insecure: bool | None = None


class ModelPushJob(AdminOnly, JobType[PushRequest]):
    job_type = "model.push"
    label = "Model upload"
    operation = "Model Upload"
    description = "Upload a model to a registry."
    result_kind = "model"
    submittable = False
    request_model = PushRequest

    async def run(self, ctx: JobContext, request: PushRequest) -> dict[str, Any]:
        body = {**request.model_dump(exclude_none=True), "stream": True}
        return {"model": request.model, **await follow_status(ctx, stream_json(ctx.ollama, "/api/push", body))}
