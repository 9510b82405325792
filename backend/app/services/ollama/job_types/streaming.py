"""What the text job types share: Ollama's request options, and consuming a streamed answer while
reporting it as it arrives — its text, a thinking model's reasoning and the tool calls a model asks for."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.services.ollama.client import stream_json
from app.services.ollama.loads import ensure_loaded
from app.services.ollama.names import ValidModelName
from app.services.queue.job_type import JobContext

KeepAlive = float | str

# The timing and count fields of Ollama's final chunk, kept in a text job's result.
FINAL_FIELDS = (
    "done_reason",
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


class OllamaOptions(BaseModel):
    """Fields generate and chat share."""

    model_config = ConfigDict(extra="forbid")

    model: ValidModelName | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="Ollama model name, e.g. `tinyllama:latest`; left out: the active model (see /settings).",
    )
    format: Literal["json"] | dict[str, Any] | None = Field(
        default=None, description='"json" or a JSON Schema; "" is no format, as for Ollama.'
    )
    options: dict[str, Any] | None = Field(default=None, description="Ollama options: temperature, num_ctx, …")
    keep_alive: KeepAlive | None = Field(default=None, description='How long the model stays loaded, e.g. "5m".')
    think: bool | str | None = Field(
        default=None, description='Thinking mode, for thinking models: true, false, or "low" | "medium" | "high".'
    )

    @field_validator("format", mode="before")
    @classmethod
    def _empty_format_is_none(cls, value: Any) -> Any:
        return None if value == "" else value  # LangChain's OllamaLLM sends format: ""; Ollama ignores it


@dataclass
class Answer:
    """A streamed answer put back together."""

    text: str = ""
    thinking: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)  # FINAL_FIELDS present in the done chunk (and context)


async def stream_answer(
    ctx: JobContext, chunks: AsyncIterator[dict[str, Any]], *, chat: bool, at_most: int | None = None
) -> Answer:
    """Consume Ollama's NDJSON chunks (chat's `message` or generate's `response`), reporting text,
    reasoning and tool calls as they arrive. `aclosing` closes the HTTP stream on every exit,
    cancellation included, so Ollama stops generating when the job is cancelled.

    `at_most`: the request's `num_predict` (the most tokens Ollama will produce, a chunk each): the
    percent is then the tokens so far against it — it can only run behind (an answer may end sooner),
    never ahead. Without it, the length is unknown and no percent is reported beyond the first 0."""
    answer = Answer()
    texts: list[str] = []
    thoughts: list[str] = []
    pieces = 0
    async with aclosing(chunks) as stream:  # type: ignore[type-var]
        async for chunk in stream:
            part = (chunk.get("message") or {}) if chat else chunk
            text = str(part.get("content" if chat else "response") or "")
            thinking = str(part.get("thinking") or "")
            calls = part.get("tool_calls") or []
            texts.append(text)
            thoughts.append(thinking)
            answer.tool_calls.extend(calls)
            pieces += 1 if text or thinking else 0
            ctx.progress.update(
                text_delta=text,
                thinking_delta=thinking,
                tool_calls=list(answer.tool_calls) if calls else None,
                tokens=pieces,
                message="thinking" if thinking and not text else "generating",
                percent=min(99, pieces * 100 // at_most) if at_most else None,
            )
            if chunk.get("done"):
                answer.final = {name: chunk[name] for name in (*FINAL_FIELDS, "context") if chunk.get(name)}
    answer.text, answer.thinking = "".join(texts), "".join(thoughts)
    return answer


async def stream_text(
    ctx: JobContext, chunks: AsyncIterator[Any], text_of: Callable[[Any], str | None], message: str = "generating"
) -> tuple[str, dict[str, Any]]:
    """Consume a stream of the official client's typed chunks, reporting text as it arrives (for job
    types that build on a generation: reports, diagrams). Closed on every exit, as above."""
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


async def generate_streamed(ctx: JobContext, request: OllamaOptions, path: str) -> tuple[str, Answer]:
    """Load the request's model (or the active one) and stream Ollama's answer to it at `path`
    (`/api/generate` or `/api/chat`): the model used, and the answer."""
    model = request.model or ctx.default_model
    ctx.progress.update(message=f"waiting for {model}", percent=0)
    await ensure_loaded(ctx, model, request.keep_alive)
    body = {**request.model_dump(exclude_none=True), "model": model, "stream": True}
    limit = (request.options or {}).get("num_predict")
    at_most = limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None
    chunks = stream_json(ctx.ollama, path, body)
    return model, await stream_answer(ctx, chunks, chat=path == "/api/chat", at_most=at_most)
