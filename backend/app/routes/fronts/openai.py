"""A drop-in OpenAI API (`base_url=<aijobs>/v1`), as Ollama's OpenAI-compatible layer answers it: chat
completions (tools, reasoning, images, JSON output, usage; streamed as server-sent events or not),
legacy completions, the Responses API, embeddings (floats or base64) and the models — each
generating request a queued job like any other. The OpenAI client's API key is the caller's aijobs
token. While a streamed request waits for its turn, SSE comments keep the connection alive and say
where it is in the queue."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from app.models.job import JobStatus
from app.routes.deps import CurrentUser
from app.routes.fronts import dropin
from app.services.accounts.users import User
from app.services.ollama import capabilities
from app.services.ollama import openai_compat as compat
from app.services.realtime import relay

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": 'Invalid request, in OpenAI\'s shape: `{"error": {"message", "type", "param", "code"}}`'},
    401: {"description": "No or bad key"},
    404: {"description": "Ollama has no such model"},
    429: {"description": "A quota is full (`Retry-After`)"},
    500: {"description": "The job failed"},
    502: {"description": "Ollama is unreachable"},
    504: {"description": "The job ran past its time limit"},
}
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "not_found_error"}
ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}
SSE = "text/event-stream"
JsonBody = Body(default=None, description="OpenAI's request body; sent with any Content-Type.")


def openai_error(
    status: int, message: str, param: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """OpenAI's error shape, with the type Ollama's layer gives each status."""
    kind = ERROR_TYPES.get(status, "api_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": ERROR_CODES.get(status)}}
    return JSONResponse(body, status_code=status, headers=headers)


class Invalid(dropin.Refused):
    def __init__(self, error: compat.Invalid) -> None:
        super().__init__(400, error.message)
        self.param = error.param


def refused(error: dropin.Refused) -> Response:
    if isinstance(error, dropin.CallerGone):
        return Response(status_code=499)  # nobody is listening any more
    return openai_error(error.status, error.message, getattr(error, "param", None), error.headers)


class OpenAIRoute(dropin.FrontRoute):
    render = staticmethod(refused)


router = APIRouter(prefix="/v1", tags=["drop-in: OpenAI API"], route_class=OpenAIRoute)


def translated(translate: Callable[[dict[str, Any]], dict[str, Any]], body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise dropin.Refused(400, "missing request body" if body is None else "the body must be a JSON object")
    try:
        return translate(body)
    except compat.Invalid as error:
        raise Invalid(error) from error


def sse(payload: dict[str, Any] | str) -> bytes:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()


def keepalive(waiting: dropin.Waiting) -> bytes:
    """An SSE comment: clients skip it, proxies and read timeouts see bytes."""
    where = f"position {waiting.position}" if waiting.position is not None else "starting"
    return f": queued, {where}\n\n".encode()


def failed_event(job: Any) -> bytes:
    error = dropin.job_refusal(job)
    kind = ERROR_TYPES.get(error.status, "api_error")
    return sse({"error": {"message": error.message, "type": kind, "param": None, "code": None}})


async def queued_stream(request: Request, user: User, job_type: str, job_body: dict, details: str, check: Any):
    job = await dropin.submit(request, user, job_type, job_body, details, check)
    return dropin.Follower(request, job, user)


# ---- chat completions -------------------------------------------------------------------------------


class ChatStream:
    """Ollama's chat events as `chat.completion.chunk`s, as Ollama's layer writes them: the role on the
    first chunk, reasoning and tool calls in the delta, a finish chunk with an empty delta, then the
    usage chunk if asked, then `[DONE]`."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self.id = compat.new_id("chatcmpl-")
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self.first = True
        self.calls = 0

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        if self.first:
            delta = {"role": "assistant", **delta}
            self.first = False
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return sse(self._envelope([choice]))

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_ollama",
            "choices": choices,
        }

    def event(self, event: relay.Text | relay.Thinking | relay.ToolCalls) -> bytes:
        if isinstance(event, relay.Text):
            return self.chunk({"content": event.delta})
        if isinstance(event, relay.Thinking):
            return self.chunk({"content": "", "reasoning": event.delta})
        calls = compat.openai_tool_calls(event.calls, first_index=self.calls)
        self.calls += len(calls)
        return self.chunk({"content": "", "tool_calls": calls})

    def end(self, result: dict[str, Any]) -> bytes:
        if self.first:  # a wholly empty answer still opens with the role
            finish = self.chunk({"content": ""})
        else:
            finish = b""
        reason = compat.finish_reason(result, self.calls > 0)
        finish += sse(self._envelope([{"index": 0, "delta": {}, "finish_reason": reason}]))
        if self.include_usage:
            finish += sse({**self._envelope([]), "usage": compat.usage(result)})
        return finish + sse("[DONE]")

    async def body(self, follower: dropin.Follower) -> AsyncIterator[bytes]:
        async for event in follower.stream(keepalive=True):
            if isinstance(event, dropin.Waiting):
                yield keepalive(event)
            elif isinstance(event, relay.Text | relay.Thinking | relay.ToolCalls):
                yield self.event(event)
            elif isinstance(event, relay.Ended):
                if event.job.status == JobStatus.COMPLETED:
                    yield self.end(event.job.result_data or {})
                else:
                    yield failed_event(event.job) + sse("[DONE]")


def include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


@router.post("/chat/completions", responses=ERRORS)
async def chat_completions(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """OpenAI chat completions, queued behind the GPU slot; `stream: true` answers with server-sent events."""
    chat = translated(compat.chat_request, body)
    assert body is not None
    model = str(body.get("model") or "")
    details = f"OpenAI API chat ({model})"
    if body.get("stream"):
        follower = await queued_stream(request, user, "chat", chat, details, "chat")
        return StreamingResponse(ChatStream(model, include_usage(body)).body(follower), media_type=SSE)
    result = (await dropin.run(request, user, "chat", chat, details, check="chat")).result_data or {}
    message = compat.chat_message(result)
    choice = {
        "index": 0,
        "message": message,
        "finish_reason": compat.finish_reason(result, bool(message.get("tool_calls"))),
    }
    return JSONResponse(
        {
            "id": compat.new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_ollama",
            "choices": [choice],
            "usage": compat.usage(result),
        }
    )


# ---- legacy completions -----------------------------------------------------------------------------


@router.post("/completions", responses=ERRORS)
async def completions(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """OpenAI's legacy prompt completion, as an Ollama generate job."""
    generate = translated(compat.completion_request, body)
    assert body is not None
    model = str(body.get("model") or "")
    completion_id = compat.new_id("cmpl-")
    created = int(time.time())
    details = f"OpenAI API completion ({model})"

    def envelope(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        base = {"id": completion_id, "object": "text_completion", "created": created, "model": model}
        return {**base, "system_fingerprint": "fp_ollama", "choices": choices, **extra}

    if not body.get("stream"):
        result = (await dropin.run(request, user, "generate", generate, details, check="generate")).result_data or {}
        choice = {"text": result.get("response", ""), "index": 0, "finish_reason": result.get("done_reason") or "stop"}
        return JSONResponse(envelope([choice], usage=compat.usage(result)))
    follower = await queued_stream(request, user, "generate", generate, details, "generate")

    async def events() -> AsyncIterator[bytes]:
        async for event in follower.stream(keepalive=True):
            if isinstance(event, dropin.Waiting):
                yield keepalive(event)
            elif isinstance(event, relay.Text):
                yield sse(envelope([{"text": event.delta, "index": 0, "finish_reason": None}]))
            elif isinstance(event, relay.Ended):
                if event.job.status != JobStatus.COMPLETED:
                    yield failed_event(event.job) + sse("[DONE]")
                    return
                result = event.job.result_data or {}
                reason = result.get("done_reason") or "stop"
                yield sse(envelope([{"text": "", "index": 0, "finish_reason": reason}]))
                if include_usage(body):
                    yield sse(envelope([], usage=compat.usage(result)))
                yield sse("[DONE]")

    return StreamingResponse(events(), media_type=SSE)


# ---- the Responses API ------------------------------------------------------------------------------


class ResponseStream:
    """Ollama's chat events as the Responses API's typed events: created and in progress, the message
    item with its text deltas (or the function calls), completed with the whole response."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.id = compat.new_id("resp_")
        self.message_id = compat.new_id("msg_")
        self.created = int(time.time())
        self.sequence = 0
        self.text = ""
        self.message_open = False

    def event(self, kind: str, **data: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self.sequence, **data}
        self.sequence += 1
        return f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode()

    def response(self, status: str, output: list[dict[str, Any]], result: Any = None) -> dict[str, Any]:
        return compat.response_object(self.body, self.id, self.created, status, output, result)

    def open_message(self) -> bytes:
        self.message_open = True
        item = compat.message_item(self.message_id, "", status="in_progress")
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        return self.event("response.output_item.added", output_index=0, item=item) + self.event(
            "response.content_part.added", item_id=self.message_id, output_index=0, content_index=0, part=part
        )

    def text_delta(self, delta: str) -> bytes:
        opened = b"" if self.message_open else self.open_message()
        self.text += delta
        where = {"item_id": self.message_id, "output_index": 0, "content_index": 0}
        return opened + self.event("response.output_text.delta", **where, delta=delta, logprobs=[])

    def completed(self, result: dict[str, Any]) -> bytes:
        output = compat.response_output(result, self.id, self.message_id)
        sent = b""
        if self.message_open:
            where = {"item_id": self.message_id, "output_index": 0, "content_index": 0}
            part = {"type": "output_text", "text": self.text, "annotations": [], "logprobs": []}
            sent += self.event("response.output_text.done", **where, text=self.text, logprobs=[])
            sent += self.event("response.content_part.done", **where, part=part)
        for index, item in enumerate(output):
            if item["type"] != "message" or not self.message_open:
                sent += self.event("response.output_item.added", output_index=index, item=item)
            sent += self.event("response.output_item.done", output_index=index, item=item)
        return sent + self.event("response.completed", response=self.response("completed", output, result))

    async def stream(self, follower: dropin.Follower) -> AsyncIterator[bytes]:
        yield self.event("response.created", response=self.response("in_progress", []))
        yield self.event("response.in_progress", response=self.response("in_progress", []))
        async for event in follower.stream(keepalive=True):
            if isinstance(event, dropin.Waiting):
                yield keepalive(event)
            elif isinstance(event, relay.Text):
                yield self.text_delta(event.delta)
            elif isinstance(event, relay.Ended):
                if event.job.status == JobStatus.COMPLETED:
                    yield self.completed(event.job.result_data or {})
                else:
                    failed = {**self.response("failed", []), "error": {"code": "server_error", "message": ""}}
                    failed["error"]["message"] = dropin.job_refusal(event.job).message
                    yield self.event("response.failed", response=failed)


@router.post("/responses", responses=ERRORS)
async def responses(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """OpenAI's Responses API (text, function tools, reasoning), as a chat job; nothing is stored."""
    chat = translated(compat.responses_request, body)
    assert body is not None
    details = f"OpenAI API responses ({body.get('model')})"
    if body.get("stream"):
        follower = await queued_stream(request, user, "chat", chat, details, "chat")
        return StreamingResponse(ResponseStream(body).stream(follower), media_type=SSE)
    result = (await dropin.run(request, user, "chat", chat, details, check="chat")).result_data or {}
    shape = ResponseStream(body)
    output = compat.response_output(result, shape.id, shape.message_id)
    return JSONResponse({**shape.response("completed", output, result), "completed_at": int(time.time())})


# ---- embeddings and models --------------------------------------------------------------------------


@router.post("/embeddings", responses=ERRORS)
async def embeddings(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """OpenAI embeddings as a queued `embed` job: floats, or base64 (the Node SDK's default) when asked."""
    embed = translated(compat.embed_request, body)
    assert body is not None
    details = f"OpenAI API embeddings ({body.get('model')})"
    result = (await dropin.run(request, user, "embed", embed, details, check="embed")).result_data or {}
    data = [
        {"object": "embedding", "embedding": compat.embedding(vector, body.get("encoding_format")), "index": index}
        for index, vector in enumerate(result.get("embeddings", []))
    ]
    tokens = int(result.get("prompt_eval_count") or 0)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse({"object": "list", "data": data, "model": body.get("model"), "usage": usage})


@router.get("/models", responses=ERRORS)
async def models(request: Request, _user: CurrentUser) -> Response:
    """Ollama's models, in OpenAI's list shape."""
    try:
        listed = (await request.app.state.catalogue.models("/api/tags"))["models"]  # every GPU host's
    except httpx.HTTPError as error:
        return openai_error(502, f"Ollama is unreachable: {error}")
    data = [compat.model_entry(model, compat.unix_time(model.get("modified_at"))) for model in listed]
    return JSONResponse({"object": "list", "data": data})


@router.get("/models/{model:path}", responses=ERRORS)
async def model(request: Request, _user: CurrentUser, model: str) -> Response:
    """One model, from Ollama's /api/show; 404 in OpenAI's shape when Ollama has none by that name."""
    try:
        shown = await request.app.state.shown_models.show(model)  # the first GPU host that has it
    except httpx.HTTPError as error:
        return openai_error(502, f"Ollama is unreachable: {error}")
    except capabilities.OllamaRefuses as error:
        return openai_error(error.status_code, error.message)
    if shown is None:
        return openai_error(404, f"model '{model}' not found")
    return JSONResponse(compat.model_entry({"model": model}, compat.unix_time(shown.get("modified_at"))))
