"""`chat`: a conversation, answered by one streamed call to Ollama's /api/chat — with tools (the model
may answer with tool calls instead of text), thinking and images, as Ollama takes them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.services.ollama.job_types.streaming import OllamaOptions, generate_streamed
from app.services.queue.job_type import JobContext, JobType


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # Ollama's later message fields go through unchanged

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] | None = Field(default=None, description="Base64-encoded images, for vision models.")
    thinking: str | None = Field(default=None, description="An earlier answer's reasoning.")
    tool_calls: list[dict[str, Any]] | None = Field(
        default=None, description='What the assistant asked for: [{"function": {"name", "arguments": {…}}}].'
    )
    tool_name: str | None = Field(default=None, description="On a `tool` message: the tool that answered.")


class ChatRequest(OllamaOptions):
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation so far.")
    tools: list[dict[str, Any]] | None = Field(default=None, description="Function tools the model may call.")


class ChatJob(JobType[ChatRequest]):
    job_type = "chat"
    runs_model = True
    starts_early = True
    label = "Chat"
    operation = "AI Chat"
    description = "A conversation with a model; the reply streams as it is written."
    result_kind = "text"
    request_model = ChatRequest

    async def run(self, ctx: JobContext, request: ChatRequest) -> dict[str, Any]:
        model, answer = await generate_streamed(ctx, request, "/api/chat")
        message: dict[str, Any] = {"role": "assistant", "content": answer.text}
        if answer.thinking:
            message["thinking"] = answer.thinking
        if answer.tool_calls:
            message["tool_calls"] = answer.tool_calls
        return {"model": model, "message": message, **answer.final}
