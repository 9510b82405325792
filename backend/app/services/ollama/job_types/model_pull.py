"""`model.pull`: download a model into Ollama, through the GPU slot like any job (so it never overlaps
a generation), with progress in bytes summed over the layers Ollama reports."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from app.services.ollama.job_types.model_request import ModelRequest
from app.services.queue.job_type import JobContext, JobType


class ModelPullJob(JobType[ModelRequest]):
    job_type = "model.pull"
    label = "Model download"
    operation = "Model Download"
    description = "Download a model into Ollama."
    result_kind = "model"
    submittable = False
    request_model = ModelRequest

    async def run(self, ctx: JobContext, request: ModelRequest) -> dict[str, Any]:
        layers: dict[str, tuple[int, int]] = {}
        status = ""
        stream = await ctx.ollama.pull(request.model, stream=True)
        async with aclosing(stream) as parts:  # type: ignore[type-var]
            async for part in parts:
                status = part.status or status
                if part.digest and part.total:
                    layers[part.digest] = (part.completed or 0, part.total)
                done = sum(completed for completed, _ in layers.values())
                total = sum(size for _, size in layers.values())
                percent = round(100 * done / total, 1) if total else 0
                ctx.progress.update(message=status, completed_bytes=done, total_bytes=total, percent=percent)
        return {"model": request.model, "status": status, "total_bytes": sum(size for _, size in layers.values())}
