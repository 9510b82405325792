"""A drop-in Ollama: existing Ollama clients point at aijobs and get the queue for free. Each
generate/chat/embed request becomes a job (queued behind the GPU slot, fair between users, visible in
the lock and the job list) and the answer streams back in Ollama's NDJSON as the job produces it —
text, reasoning and tool calls alike. Model management (pull, push, create, copy, delete) is for
admins and runs as jobs too; questions that use no GPU (tags, ps, show, version) go straight to Ollama.
The caller's `Authorization: Bearer` token (the Ollama client's `headers=`) is their aijobs token."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from app.errors import Forbidden
from app.models.job import JobStatus
from app.routes.deps import CurrentUser
from app.routes.fronts import dropin
from app.services.accounts.users import User
from app.services.ollama.job_types.streaming import FINAL_FIELDS
from app.services.queue import store
from app.services.realtime import relay

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": 'Invalid request, in Ollama\'s shape: `{"error": "…"}` (every error here has it)'},
    401: {"description": "No or bad token"},
    403: {"description": "Model management needs an admin"},
    404: {"description": "Ollama has no such model"},
    429: {"description": "A quota is full (`Retry-After`)"},
    500: {"description": "The job failed"},
    502: {"description": "Ollama is unreachable"},
    504: {"description": "The job ran past its time limit"},
}
NDJSON = "application/x-ndjson"
JsonBody = Body(default=None, description="Ollama's request body; sent with any Content-Type.")


def ollama_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Ollama's own error shape, `{"error": "…"}`, which its clients understand."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def refused(error: dropin.Refused) -> Response:
    if isinstance(error, dropin.CallerGone):
        return Response(status_code=499)  # nobody is listening any more
    return ollama_error(error.status, error.message, error.headers)


class OllamaRoute(dropin.FrontRoute):
    render = staticmethod(refused)


router = APIRouter(tags=["drop-in: Ollama API"], route_class=OllamaRoute)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def line(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload) + "\n").encode()


class Shape:
    """Where generate and chat put the pieces of an answer."""

    def __init__(self, chat: bool, model: str) -> None:
        self.chat = chat
        self.model = model

    def chunk(self, text: str = "", thinking: str = "", tool_calls: list[dict[str, Any]] | None = None) -> dict:
        if self.chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if thinking:
                message["thinking"] = thinking
            if tool_calls:
                message["tool_calls"] = tool_calls
            body: dict[str, Any] = {"message": message}
        else:
            body = {"response": text, **({"thinking": thinking} if thinking else {})}
        return {"model": self.model, "created_at": now(), **body, "done": False}

    def event(self, event: relay.Text | relay.Thinking | relay.ToolCalls) -> dict[str, Any]:
        if isinstance(event, relay.Text):
            return self.chunk(text=event.delta)
        if isinstance(event, relay.Thinking):
            return self.chunk(thinking=event.delta)
        return self.chunk(tool_calls=event.calls)

    def final(self, job: store.Job, whole: bool) -> dict[str, Any]:
        """The done chunk; `whole` (not streamed): with the whole answer in it."""
        result = job.result_data or {}
        if not whole:
            answer = self.chunk()
        elif self.chat:
            message = result.get("message") or {}
            answer = self.chunk(message.get("content", ""), message.get("thinking", ""), message.get("tool_calls"))
        else:
            answer = self.chunk(result.get("response", ""), result.get("thinking", ""))
        timings = {name: result[name] for name in FINAL_FIELDS if result.get(name)}
        context = {} if self.chat else {"context": result.get("context") or []}
        return {**answer, "done": True, **timings, **context}


async def answer_lines(follower: dropin.Follower, shape: Shape) -> AsyncIterator[bytes]:
    async for event in follower.stream():
        if isinstance(event, relay.Text | relay.Thinking | relay.ToolCalls):
            yield line(shape.event(event))
        elif isinstance(event, relay.Ended):
            if event.job.status == JobStatus.COMPLETED:
                yield line(shape.final(event.job, whole=False))
            else:  # as Ollama does once bytes were sent: an error line, and no done chunk
                yield line({"error": dropin.job_refusal(event.job).message})


async def text_job(request: Request, user: User, job_type: str, body: dict[str, Any]) -> Response:
    stream = body.get("stream") is not False  # Ollama streams unless told not to
    model = str(body.get("model", ""))
    shape = Shape(chat=job_type == "chat", model=model)
    details = f"Ollama API /api/{job_type} ({model})"
    job_body = dropin.known_fields(body, job_type)
    if not stream:
        ended = await dropin.run(request, user, job_type, job_body, details, check=job_type)
        return JSONResponse(shape.final(ended, whole=True))
    job = await dropin.submit(request, user, job_type, job_body, details, check=job_type)
    # Headers now, so a client's timeout does not run out while the job waits its turn.
    return StreamingResponse(answer_lines(dropin.Follower(request, job, user), shape), media_type=NDJSON)


async def load_or_unload(request: Request, user: User, body: dict[str, Any], chat: bool) -> Response:
    """An empty prompt loads the model (keep_alive 0: unloads it), as with Ollama — as a job too."""
    model = str(body.get("model", ""))
    unload = body.get("keep_alive") in (0, "0", "0s", "0m")
    request_body = {"model": model} if unload else {"model": model, "keep_alive": body.get("keep_alive")}
    if request_body.get("keep_alive") is None:
        request_body.pop("keep_alive", None)
    job_type = "model.unload" if unload else "model.load"
    await dropin.run(request, user, job_type, request_body, details=f"Ollama API ({model})")
    shape = Shape(chat=chat, model=model)
    return JSONResponse({**shape.chunk(), "done": True, "done_reason": "unload" if unload else "load"})


def required(body: dict[str, Any] | None) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise dropin.Refused(400, "missing request body" if body is None else "the body must be a JSON object")
    return body


@router.post("/api/generate", responses=ERRORS)
async def generate(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """Ollama's /api/generate, queued: NDJSON chunks as the job streams, or one object with `stream: false`."""
    body = required(body)
    if not body.get("prompt"):
        return await load_or_unload(request, user, body, chat=False)
    return await text_job(request, user, "generate", body)


@router.post("/api/chat", responses=ERRORS)
async def chat(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """Ollama's /api/chat, queued: tools, thinking and images as Ollama takes them."""
    body = required(body)
    if not body.get("messages"):
        return await load_or_unload(request, user, body, chat=True)
    return await text_job(request, user, "chat", body)


async def embed_job(request: Request, user: User, body: dict[str, Any], path: str) -> store.Job:
    model = str(body.get("model", ""))
    details = f"Ollama API {path} ({model})"
    return await dropin.run(request, user, "embed", dropin.known_fields(body, "embed"), details, check="embed")


@router.post("/api/embed", responses=ERRORS)
async def embed(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """Ollama's /api/embed, queued (never streamed)."""
    body = required(body)
    result = (await embed_job(request, user, body, "/api/embed")).result_data or {}
    timings = {
        name: result[name] for name in ("total_duration", "load_duration", "prompt_eval_count") if result.get(name)
    }
    return JSONResponse({"model": body.get("model", ""), "embeddings": result.get("embeddings", []), **timings})


@router.post("/api/embeddings", responses=ERRORS)
async def embeddings(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """Ollama's legacy /api/embeddings (`prompt` → one `embedding`), queued as an `embed` job."""
    body = required(body)
    single = {**{k: v for k, v in body.items() if k != "prompt"}, "input": str(body.get("prompt") or "")}
    result = (await embed_job(request, user, single, "/api/embeddings")).result_data or {}
    vectors = result.get("embeddings") or [[]]
    return JSONResponse({"embedding": vectors[0]})


def unreachable(request: Request, error: httpx.HTTPError) -> JSONResponse:
    return ollama_error(502, f"Ollama at {request.app.state.settings.ollama_base_url} is unreachable: {error}")


async def passthrough(request: Request, method: str, path: str, body: Any = None) -> Response:
    """Questions that use no GPU go straight to Ollama, and its answer straight back."""
    try:
        if body is None:
            reply = await request.app.state.ollama_http.request(method, path)
        else:
            reply = await request.app.state.ollama_http.request(method, path, json=body)
    except httpx.HTTPError as error:
        return unreachable(request, error)
    return Response(reply.content, status_code=reply.status_code, media_type=reply.headers.get("content-type"))


async def fleet_models(request: Request, path: str) -> Response:
    """`path`'s model list from every GPU host, merged (one host: its answer as it is)."""
    try:
        return JSONResponse(await request.app.state.catalogue.models(path))
    except httpx.HTTPError as error:
        return unreachable(request, error)


@router.head("/api/tags", include_in_schema=False)  # clients probe with HEAD, as Ollama allows
@router.get("/api/tags", responses=ERRORS)
async def tags(request: Request, _user: CurrentUser) -> Response:
    """The models the GPU hosts have (each host's /api/tags, merged by name)."""
    return await fleet_models(request, "/api/tags")


@router.get("/api/ps", responses=ERRORS)
async def ps(request: Request, _user: CurrentUser) -> Response:
    """The models the GPU hosts have loaded (each host's /api/ps, merged by name)."""
    return await fleet_models(request, "/api/ps")


@router.head("/api/version", include_in_schema=False)  # clients probe with HEAD, as Ollama allows
@router.get("/api/version", responses=ERRORS)
async def version(request: Request, _user: CurrentUser) -> Response:
    """Ollama's version (passed through)."""
    return await passthrough(request, "GET", "/api/version")


@router.post("/api/show", responses=ERRORS)
async def show(request: Request, _user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """A model's details, capabilities and context length (from the first GPU host that has the model):
    clients read them first."""
    try:
        reply = await request.app.state.catalogue.show(required(body))
    except httpx.HTTPError as error:
        return unreachable(request, error)
    return Response(reply.content, status_code=reply.status_code, media_type=reply.headers.get("content-type"))


# ---- model management: admins; each a job through the GPU slot ---------------------------------------


def admin(user: User) -> User:
    if not user.is_admin:
        raise Forbidden("Managing Ollama's models needs an admin.")
    return user


async def status_lines(follower: dropin.Follower) -> AsyncIterator[bytes]:
    """Ollama's status stream, from the job's progress: a line whenever the status or bytes change,
    `success` when the job completed, an error line when it failed."""
    async for event in follower.stream():
        if isinstance(event, relay.Progress) and event.fields.get("message"):
            yield line(status_line(event.fields))
        elif isinstance(event, relay.Ended):
            if event.job.status == JobStatus.COMPLETED:
                yield line({"status": "success"})
            else:
                yield line({"error": dropin.job_refusal(event.job).message})


def status_line(fields: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"status": fields["message"]}
    if fields.get("digest"):
        found["digest"] = fields["digest"]
        found["total"] = fields.get("layer_total") or 0
        if fields.get("layer_completed"):  # Ollama leaves `completed` out while it is 0
            found["completed"] = fields["layer_completed"]
    return found


async def model_job(request: Request, user: User, job_type: str, body: dict[str, Any]) -> Response:
    """A status-streaming model operation (pull, push, create) as a job; streamed unless `stream: false`."""
    admin(user)
    name = str(body.get("model") or body.get("name") or "")
    job_body = dropin.known_fields({**body, "model": name}, job_type)
    details = f"Ollama API /api/{job_type.removeprefix('model.')} ({name})"
    if body.get("stream") is False:
        await dropin.run(request, user, job_type, job_body, details)
        return JSONResponse({"status": "success"})
    job = await dropin.submit(request, user, job_type, job_body, details)
    return StreamingResponse(status_lines(dropin.Follower(request, job, user)), media_type=NDJSON)


@router.post("/api/pull", responses=ERRORS)
async def pull(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """Download a model (admins), streamed as Ollama streams it."""
    return await model_job(request, user, "model.pull", required(body))


@router.post("/api/push", responses=ERRORS)
async def push(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """Upload a model to a registry (admins)."""
    return await model_job(request, user, "model.push", required(body))


@router.post("/api/create", responses=ERRORS)
async def create(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """Create a model (admins): from another, from uploaded blobs, with a template and parameters."""
    return await model_job(request, user, "model.create", required(body))


@router.post("/api/copy", responses=ERRORS)
async def copy(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """Copy a model under a new name (admins): 200 with an empty body, as Ollama answers."""
    body = dropin.known_fields(required(body), "model.copy")
    await dropin.run(request, admin(user), "model.copy", body, f"Ollama API /api/copy ({body.get('source')})")
    return Response(status_code=200)


@router.delete("/api/delete", responses=ERRORS)
async def delete(request: Request, user: CurrentUser, body: dict[str, Any] | None = JsonBody) -> Response:
    """Remove a model (admins): 200 with an empty body, as Ollama answers."""
    body = required(body)
    name = str(body.get("model") or body.get("name") or "")
    await dropin.run(request, admin(user), "model.delete", {"model": name}, f"Ollama API /api/delete ({name})")
    return Response(status_code=200)


BLOB_DIGEST = re.compile(r"sha256[:-][0-9a-fA-F]{64}")


def blob_path(digest: str) -> str:
    if BLOB_DIGEST.fullmatch(digest) is None:
        raise dropin.Refused(400, "invalid digest format")  # Ollama's answer, before it looks
    return f"/api/blobs/{digest}"


@router.head("/api/blobs/{digest}", responses=ERRORS)
async def blob_exists(request: Request, user: CurrentUser, digest: str) -> Response:
    """Whether Ollama has a blob (admins): 200 or 404, as Ollama answers."""
    admin(user)
    return await passthrough(request, "HEAD", blob_path(digest))


@router.post("/api/blobs/{digest}", responses=ERRORS)
async def upload_blob(request: Request, user: CurrentUser, digest: str) -> Response:
    """Upload a file for /api/create (admins), passed through as it streams in. A blob is stored under
    its own digest and changes no model, so it needs no slot; the create that uses it is a job."""
    admin(user)
    path = blob_path(digest)
    try:
        reply = await request.app.state.ollama_http.post(path, content=request.stream())
    except httpx.HTTPError as error:
        return ollama_error(502, f"Ollama is unreachable: {error}")
    return Response(reply.content, status_code=reply.status_code, media_type=reply.headers.get("content-type"))
