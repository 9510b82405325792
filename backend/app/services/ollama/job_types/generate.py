"""`generate`: one prompt, one streamed answer from Ollama's /api/generate."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.services.ollama.job_types.streaming import OllamaOptions, generate_streamed
from app.services.queue.job_type import JobContext, JobType


class GenerateRequest(OllamaOptions):
    prompt: str = Field(min_length=1, description="The prompt.")
    system: str | None = None
    images: list[str] | None = Field(default=None, description="Base64-encoded images for multimodal models.")
    suffix: str | None = None
    template: str | None = None
    context: list[int] | None = None
    raw: bool | None = None


class GenerateJob(JobType[GenerateRequest]):
    job_type = "generate"
    runs_model = True
    starts_early = True
    label = "Text generation"
    operation = "AI Text Generation"
    description = "A prompt to a model; the answer streams as it is written."
    result_kind = "text"
    request_model = GenerateRequest

    async def run(self, ctx: JobContext, request: GenerateRequest) -> dict[str, Any]:
        model, answer = await generate_streamed(ctx, request, "/api/generate")
        thinking = {"thinking": answer.thinking} if answer.thinking else {}
        return {"model": model, "response": answer.text, **thinking, **answer.final}
