"""What the text job types share: Ollama's request options, and consuming a streamed answer while
reporting its text as it arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.services.ollama.loads import ensure_loaded
from app.services.queue.job_type import JobContext

KeepAlive = float | str

# The timing and count fields of Ollama's final chunk, kept in a text job's result.
FINAL_FIELDS = ("done_reason", "total_duration", "load_duration", "prompt_eval_count", "eval_count", "eval_duration")


class OllamaOptions(BaseModel):
    """Fields generate and chat share."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="Ollama model name, e.g. `tinyllama:latest`; left out: the active model (see /settings).",
    )
    format: Literal["json"] | dict[str, Any] | None = Field(default=None, description='"json" or a JSON Schema.')
    options: dict[str, Any] | None = Field(default=None, description="Ollama options: temperature, num_ctx, …")
    keep_alive: KeepAlive | None = Field(default=None, description='How long the model stays loaded, e.g. "5m".')
    think: bool | str | None = Field(default=None, description="Thinking mode, for thinking models.")


async def stream_text(
    ctx: JobContext, chunks: AsyncIterator[Any], text_of: Callable[[Any], str | None], message: str = "generating"
) -> tuple[str, dict[str, Any]]:
    """Consume a stream, reporting text as it arrives. `aclosing` closes the HTTP stream on every exit,
    cancellation included, so Ollama stops generating when the job is cancelled."""
    parts: list[str] = []
    final: dict[str, Any] = {}
    async with aclosing(chunks) as stream:  # type: ignore[type-var]
        async for chunk in stream:
            piece = text_of(chunk) or ""
            parts.append(piece)
            ctx.progress.update(text_delta=piece, tokens=len(parts), message=message)
            if chunk.done:
                final = {name: getattr(chunk, name, None) for name in FINAL_FIELDS}
    return "".join(parts), final


async def generate_streamed(
    ctx: JobContext, request: OllamaOptions, call: Callable[..., Any], text_of: Callable[[Any], str | None]
) -> tuple[str, str, dict[str, Any]]:
    """Load the request's model (or the active one), stream the answer of `call` (the client's
    `generate` or `chat`); the model used, the text and the final fields."""
    model = request.model or ctx.default_model
    ctx.progress.update(message=f"waiting for {model}", percent=0)
    await ensure_loaded(ctx, model, request.keep_alive)
    chunks = await call(stream=True, **{**request.model_dump(exclude_none=True), "model": model})
    text, final = await stream_text(ctx, chunks, text_of)
    return model, text, final
