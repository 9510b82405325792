"""`embed`: vectors for one text or a batch, in one call (Ollama never streams embeddings)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.services.ollama.loads import ensure_loaded
from app.services.ollama.names import ValidModelName
from app.services.queue.job_type import JobContext, JobType


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: ValidModelName = Field(
        min_length=1, max_length=300, description="An embedding model, e.g. `nomic-embed-text`."
    )
    input: str | list[str] = Field(description="One text, or a list of texts for a batch.")
    truncate: bool | None = None
    dimensions: int | None = Field(default=None, ge=1)
    keep_alive: float | str | None = None
    options: dict[str, Any] | None = None

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else self.input


class EmbedJob(JobType[EmbedRequest]):
    job_type = "embed"
    runs_model = True
    starts_early = True
    label = "Embeddings"
    operation = "AI Embeddings"
    description = "Vectors for one text or a batch."
    result_kind = "embeddings"
    submittable = False  # vectors are for programs: the page offers no form for them
    request_model = EmbedRequest

    async def run(self, ctx: JobContext, request: EmbedRequest) -> dict[str, Any]:
        count = len(request.texts())
        ctx.progress.update(message=f"embedding {count} text{'s' if count != 1 else ''}", percent=0)
        await ensure_loaded(ctx, request.model, request.keep_alive)
        reply = await ctx.ollama.embed(**request.model_dump(exclude_none=True))
        ctx.progress.update(message="done", percent=100)
        return {
            "model": request.model,
            "embeddings": [list(vector) for vector in reply.embeddings],
            "total_duration": reply.total_duration,
            "load_duration": reply.load_duration,
            "prompt_eval_count": reply.prompt_eval_count,
        }
