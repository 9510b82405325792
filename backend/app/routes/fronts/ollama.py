"""A drop-in Ollama: existing Ollama clients point at aijobs and get the queue for free. Each
generate/chat/embed request becomes a job (queued behind the GPU slot, fair between users, visible in
the lock and the job list) and the answer streams back in Ollama's NDJSON as the job produces it.
The caller's `Authorization: Bearer` token (the Ollama client's `OLLAMA_API_KEY`, or `headers=`) is
their aijobs token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from app.models.job import JobStatus
from app.routes.deps import CurrentUser
from app.routes.fronts import dropin
from app.services.accounts.users import User
from app.services.ollama.job_types.streaming import FINAL_FIELDS
from app.services.queue import store
from app.services.realtime import relay

router = APIRouter(tags=["drop-in: Ollama API"])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": 'Invalid request, in Ollama\'s shape: `{"error": "…"}`'},
    401: {"description": "No or bad token"},
    404: {"description": "Ollama has no such model"},
    422: {"description": "The body is not a JSON object"},
    500: {"description": "The job failed"},
    502: {"description": "Ollama is unreachable"},
    503: {"description": "The job could not start before its queue deadline"},
    504: {"description": "The job ran past its time limit"},
}
NDJSON = "application/x-ndjson"


def ollama_error(status: int, message: str) -> JSONResponse:
    """Ollama's own error shape, `{"error": "…"}`, which its clients understand."""
    return JSONResponse({"error": message}, status_code=status)


def refused(error: dropin.Refused) -> Response:
    if isinstance(error, dropin.CallerGone):
        return Response(status_code=499)  # nobody is listening any more
    return ollama_error(error.status, error.message)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Shape:
    """Where generate and chat put the text of a chunk."""

    def __init__(self, chat: bool, model: str) -> None:
        self.chat = chat
        self.model = model

    def chunk(self, text: str) -> dict[str, Any]:
        body = {"message": {"role": "assistant", "content": text}} if self.chat else {"response": text}
        return {"model": self.model, "created_at": now(), **body, "done": False}

    def final(self, text: str, job: store.Job) -> dict[str, Any]:
        result = job.result_data or {}
        timings = {name: result[name] for name in FINAL_FIELDS if result.get(name)}
        extra = {} if self.chat else {"context": []}
        return {**self.chunk(text), "done": True, **timings, **extra}


async def text_job(request: Request, user: User, job_type: str, body: dict[str, Any]) -> Response:
    stream = bool(body.pop("stream", True))
    model = str(body.get("model", ""))
    shape = Shape(chat=job_type == "chat", model=model)
    details = f"Ollama API /api/{job_type} ({model})"
    try:
        if not stream:
            text, ended = await dropin.run(request, user, job_type, body, details)
            return JSONResponse(shape.final(text, ended))
        job = await dropin.submit(request, user, job_type, body, details)
        follower = dropin.Follower(request, job, user)
        first = await follower.first()
        if isinstance(first, relay.Ended):
            dropin.check_completed(first.job)
    except dropin.Refused as error:
        return refused(error)

    async def lines() -> AsyncIterator[bytes]:
        event: relay.Text | relay.Ended = first
        events = follower.rest()
        while True:
            if isinstance(event, relay.Text):
                yield (json.dumps(shape.chunk(event.delta)) + "\n").encode()
            elif event.job.status == JobStatus.COMPLETED:
                yield (json.dumps(shape.final("", event.job)) + "\n").encode()
                return
            else:  # as Ollama does once bytes were sent: an error line, and no done chunk
                yield (json.dumps({"error": event.job.error_message or event.job.status}) + "\n").encode()
                return
            event = await anext(events)

    return StreamingResponse(lines(), media_type=NDJSON)


async def load_or_unload(request: Request, user: User, body: dict[str, Any], chat: bool) -> Response:
    """An empty prompt loads the model (keep_alive 0: unloads it), as with Ollama — as a job too."""
    model = str(body.get("model", ""))
    unload = body.get("keep_alive") in (0, "0", "0s", "0m")
    request_body = {"model": model} if unload else {"model": model, "keep_alive": body.get("keep_alive")}
    if request_body.get("keep_alive") is None:
        request_body.pop("keep_alive", None)
    job_type = "model.unload" if unload else "model.load"
    try:
        await dropin.run(request, user, job_type, request_body, details=f"Ollama API ({model})")
    except dropin.Refused as error:
        return refused(error)
    shape = Shape(chat=chat, model=model)
    return JSONResponse({**shape.chunk(""), "done": True, "done_reason": "unload" if unload else "load"})


@router.post("/api/generate", responses=ERRORS)
async def generate(request: Request, user: CurrentUser, body: dict[str, Any] = Body(...)) -> Response:  # noqa: B008
    """Ollama's /api/generate, queued: NDJSON chunks as the job streams, or one object with `stream: false`."""
    if not body.get("prompt"):
        return await load_or_unload(request, user, body, chat=False)
    return await text_job(request, user, "generate", body)


@router.post("/api/chat", responses=ERRORS)
async def chat(request: Request, user: CurrentUser, body: dict[str, Any] = Body(...)) -> Response:  # noqa: B008
    """Ollama's /api/chat, queued."""
    if not body.get("messages"):
        return await load_or_unload(request, user, body, chat=True)
    return await text_job(request, user, "chat", body)


@router.post("/api/embed", responses=ERRORS)
async def embed(request: Request, user: CurrentUser, body: dict[str, Any] = Body(...)) -> Response:  # noqa: B008
    """Ollama's /api/embed, queued (never streamed)."""
    model = str(body.get("model", ""))
    try:
        _, ended = await dropin.run(request, user, "embed", body, details=f"Ollama API /api/embed ({model})")
    except dropin.Refused as error:
        return refused(error)
    result = ended.result_data or {}
    timings = {
        name: result[name] for name in ("total_duration", "load_duration", "prompt_eval_count") if result.get(name)
    }
    return JSONResponse({"model": model, "embeddings": result.get("embeddings", []), **timings})


async def passthrough(request: Request, path: str) -> Response:
    """Read-only questions go straight to Ollama: they do not use the GPU."""
    try:
        reply = await request.app.state.ollama_http.get(path)
    except httpx.HTTPError as error:
        return ollama_error(502, f"Ollama at {request.app.state.settings.ollama_base_url} is unreachable: {error}")
    return Response(reply.content, status_code=reply.status_code, media_type=reply.headers.get("content-type"))


@router.get("/api/tags", responses=ERRORS)
async def tags(request: Request, _user: CurrentUser) -> Response:
    """The models Ollama has (passed through)."""
    return await passthrough(request, "/api/tags")


@router.get("/api/ps", responses=ERRORS)
async def ps(request: Request, _user: CurrentUser) -> Response:
    """The models Ollama has loaded (passed through)."""
    return await passthrough(request, "/api/ps")


@router.get("/api/version", responses=ERRORS)
async def version(request: Request, _user: CurrentUser) -> Response:
    """Ollama's version (passed through)."""
    return await passthrough(request, "/api/version")
