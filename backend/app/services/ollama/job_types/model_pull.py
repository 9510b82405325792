"""Model management through the GPU slot: `model.pull`, `model.load`, `model.unload`. They queue like
any job, so a load never overlaps a generation."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.services.ollama.names import ValidModelName
from app.services.queue.job_type import JobContext, JobHandler


class ModelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: ValidModelName = Field(
        min_length=1, max_length=300, description="e.g. `tinyllama:latest`, `hf.co/org/repo:Q4_K_M`"
    )


class LoadRequest(ModelRequest):
    keep_alive: float | str | None = Field(
        default=None, description='How long it stays loaded, e.g. "30m"; -1: forever.'
    )


class PullHandler(JobHandler[ModelRequest]):
    job_type = "model.pull"
    operation = "Model Download"
    request_model = ModelRequest

    async def run(self, ctx: JobContext, request: ModelRequest) -> dict[str, Any]:
        """Progress in bytes and percent, summed over the layers Ollama reports."""
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


class LoadHandler(JobHandler[LoadRequest]):
    job_type = "model.load"
    operation = "Model Load"
    request_model = LoadRequest

    async def run(self, ctx: JobContext, request: LoadRequest) -> dict[str, Any]:
        ctx.progress.update(message=f"loading {request.model}", percent=0)
        load: dict[str, Any] = {"model": request.model, "prompt": ""}
        if request.keep_alive is not None:
            load["keep_alive"] = request.keep_alive
        reply = await ctx.ollama.generate(**load)
        ctx.progress.update(message="loaded", percent=100)
        return {"model": request.model, "done_reason": reply.done_reason, "load_duration": reply.load_duration}


class UnloadHandler(JobHandler[ModelRequest]):
    job_type = "model.unload"
    operation = "Model Unload"
    request_model = ModelRequest

    async def run(self, ctx: JobContext, request: ModelRequest) -> dict[str, Any]:
        reply = await ctx.ollama.generate(model=request.model, prompt="", keep_alive=0)
        ctx.progress.update(message="unloaded", percent=100)
        return {"model": request.model, "done_reason": reply.done_reason}
