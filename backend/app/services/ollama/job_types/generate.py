"""`generate` and `chat`: one streamed call to Ollama, the text shown as it arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.services.ollama.loads import ensure_loaded
from app.services.queue.job_type import JobContext, JobHandler

KeepAlive = float | str


class _OllamaOptions(BaseModel):
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


class GenerateRequest(_OllamaOptions):
    prompt: str = Field(min_length=1, description="The prompt.")
    system: str | None = None
    images: list[str] | None = Field(default=None, description="Base64-encoded images for multimodal models.")
    suffix: str | None = None
    template: str | None = None
    context: list[int] | None = None
    raw: bool | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] | None = None


class ChatRequest(_OllamaOptions):
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation so far.")
    tools: list[dict[str, Any]] | None = None


FINAL_FIELDS = ("done_reason", "total_duration", "load_duration", "prompt_eval_count", "eval_count", "eval_duration")


async def stream_text(
    ctx: JobContext, chunks: AsyncIterator[Any], text_of: Any, message: str = "generating"
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


class GenerateHandler(JobHandler[GenerateRequest]):
    job_type = "generate"
    operation = "AI Text Generation"
    request_model = GenerateRequest

    async def run(self, ctx: JobContext, request: GenerateRequest) -> dict[str, Any]:
        model = request.model or ctx.default_model
        ctx.progress.update(message=f"waiting for {model}", percent=0)
        await ensure_loaded(ctx, model, request.keep_alive)
        chunks = await ctx.ollama.generate(stream=True, **{**request.model_dump(exclude_none=True), "model": model})
        text, final = await stream_text(ctx, chunks, lambda chunk: chunk.response)
        return {"model": model, "response": text, **final}


class ChatHandler(JobHandler[ChatRequest]):
    job_type = "chat"
    operation = "AI Chat"
    request_model = ChatRequest

    async def run(self, ctx: JobContext, request: ChatRequest) -> dict[str, Any]:
        model = request.model or ctx.default_model
        ctx.progress.update(message=f"waiting for {model}", percent=0)
        await ensure_loaded(ctx, model, request.keep_alive)
        chunks = await ctx.ollama.chat(stream=True, **{**request.model_dump(exclude_none=True), "model": model})
        text, final = await stream_text(ctx, chunks, lambda chunk: chunk.message.content)
        return {"model": model, "message": {"role": "assistant", "content": text}, **final}
