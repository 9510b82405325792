"""`chat`: a conversation, answered by one streamed call to Ollama's /api/chat."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.services.ollama.job_types.streaming import OllamaOptions, generate_streamed
from app.services.queue.job_type import JobContext, JobType


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] | None = None


class ChatRequest(OllamaOptions):
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation so far.")
    tools: list[dict[str, Any]] | None = None


class ChatJob(JobType[ChatRequest]):
    job_type = "chat"
    label = "Chat"
    operation = "AI Chat"
    description = "A conversation with a model; the reply streams as it is written."
    result_kind = "text"
    request_model = ChatRequest

    async def run(self, ctx: JobContext, request: ChatRequest) -> dict[str, Any]:
        model, text, final = await generate_streamed(ctx, request, ctx.ollama.chat, lambda chunk: chunk.message.content)
        return {"model": model, "message": {"role": "assistant", "content": text}, **final}
