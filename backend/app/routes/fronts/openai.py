"""A drop-in OpenAI API (`base_url=<aijobs>/v1`): chat completions (streamed as server-sent events or
not), embeddings and the model list, each request a queued job like any other. The OpenAI client's
API key is the caller's aijobs token."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from app.models.job import JobStatus
from app.routes.deps import CurrentUser
from app.routes.fronts import dropin
from app.services.realtime import relay

router = APIRouter(prefix="/v1", tags=["drop-in: OpenAI API"])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid request, in OpenAI's error shape"},
    401: {"description": "No or bad key"},
    404: {"description": "Ollama has no such model"},
    422: {"description": "The body does not match the schema"},
    500: {"description": "The job failed"},
    502: {"description": "Ollama is unreachable"},
    503: {"description": "The job could not start before its queue deadline"},
    504: {"description": "The job ran past its time limit"},
}


def openai_error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}}, status_code=status)


def refused(error: dropin.Refused) -> Response:
    if isinstance(error, dropin.CallerGone):
        return Response(status_code=499)  # nobody is listening any more
    return openai_error(error.status, error.message, "server_error" if error.job_failed else "invalid_request_error")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI clients send fields Ollama has no use for

    model: str = Field(min_length=1)
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    response_format: dict[str, Any] | None = None

    def chat_job(self) -> dict[str, Any]:
        """The same request as an Ollama chat job."""
        options = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "num_predict": self.max_completion_tokens or self.max_tokens,
            "stop": [self.stop] if isinstance(self.stop, str) else self.stop,
            "seed": self.seed,
            "frequency_penalty": self.frequency_penalty,
            "presence_penalty": self.presence_penalty,
        }
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_ollama_message(message) for message in self.messages],
            "options": {key: value for key, value in options.items() if value is not None} or None,
        }
        kind = (self.response_format or {}).get("type")
        if kind == "json_object":
            body["format"] = "json"
        elif kind == "json_schema":
            body["format"] = (self.response_format or {}).get("json_schema", {}).get("schema")
        return {key: value for key, value in body.items() if value is not None}


def _ollama_message(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, list):  # OpenAI's content parts: keep the text ones
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    role = message.get("role", "user")
    return {"role": "system" if role == "developer" else role, "content": content or ""}


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    input: str | list[str]
    dimensions: int | None = Field(default=None, ge=1)


def _finish_reason(result: dict[str, Any]) -> str:
    return "length" if result.get("done_reason") == "length" else "stop"


def _usage(result: dict[str, Any]) -> dict[str, int]:
    prompt = int(result.get("prompt_eval_count") or 0)
    completion = int(result.get("eval_count") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@router.post("/chat/completions", responses=ERRORS)
async def chat_completions(request: Request, user: CurrentUser, body: ChatCompletionRequest) -> Response:
    """OpenAI chat completions, queued behind the GPU slot; `stream: true` answers with server-sent events."""
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    details = f"OpenAI API chat ({body.model})"

    def envelope(kind: str, choice: dict[str, Any]) -> dict[str, Any]:
        return {"id": completion_id, "object": kind, "created": created, "model": body.model, "choices": [choice]}

    try:
        if not body.stream:
            text, ended = await dropin.run(request, user, "chat", body.chat_job(), details)
            result = ended.result_data or {}
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": _finish_reason(result),
            }
            return JSONResponse({**envelope("chat.completion", choice), "usage": _usage(result)})
        job = await dropin.submit(request, user, "chat", body.chat_job(), details)
        follower = dropin.Follower(request, job, user)
        first = await follower.first()
        if isinstance(first, relay.Ended):
            dropin.check_completed(first.job)
    except dropin.Refused as error:
        return refused(error)

    async def events() -> AsyncIterator[bytes]:
        def sse(payload: dict[str, Any]) -> bytes:
            return f"data: {json.dumps(payload)}\n\n".encode()

        yield sse(
            envelope("chat.completion.chunk", {"index": 0, "delta": {"role": "assistant"}, "finish_reason": None})
        )
        event: relay.Text | relay.Ended = first
        rest = follower.rest()
        while True:
            if isinstance(event, relay.Text):
                choice = {"index": 0, "delta": {"content": event.delta}, "finish_reason": None}
                yield sse(envelope("chat.completion.chunk", choice))
            else:
                if event.job.status == JobStatus.COMPLETED:
                    reason = _finish_reason(event.job.result_data or {})
                    yield sse(envelope("chat.completion.chunk", {"index": 0, "delta": {}, "finish_reason": reason}))
                else:
                    yield sse(
                        {"error": {"message": event.job.error_message or event.job.status, "type": "server_error"}}
                    )
                yield b"data: [DONE]\n\n"
                return
            event = await anext(rest)

    return StreamingResponse(events(), media_type="text/event-stream")


@router.post("/embeddings", responses=ERRORS)
async def embeddings(request: Request, user: CurrentUser, body: EmbeddingsRequest) -> Response:
    """OpenAI embeddings, as a queued `embed` job."""
    embed = {"model": body.model, "input": body.input}
    if body.dimensions:
        embed["dimensions"] = body.dimensions
    try:
        _, ended = await dropin.run(request, user, "embed", embed, details=f"OpenAI API embeddings ({body.model})")
    except dropin.Refused as error:
        return refused(error)
    result = ended.result_data or {}
    data = [
        {"object": "embedding", "index": index, "embedding": vector}
        for index, vector in enumerate(result.get("embeddings", []))
    ]
    tokens = int(result.get("prompt_eval_count") or 0)
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


@router.get("/models", responses=ERRORS)
async def models(request: Request, _user: CurrentUser) -> Response:
    """Ollama's models, in OpenAI's list shape."""
    try:
        reply = await request.app.state.ollama_http.get("/api/tags")
        reply.raise_for_status()
    except Exception as error:
        return openai_error(502, f"Ollama is unreachable: {error}", "server_error")
    data = [
        {"id": model["name"], "object": "model", "created": 0, "owned_by": "ollama"}
        for model in reply.json().get("models", [])
    ]
    return JSONResponse({"object": "list", "data": data})
