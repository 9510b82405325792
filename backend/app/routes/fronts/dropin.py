"""What the drop-in Ollama and OpenAI fronts share: a route class that reads a JSON body whatever its
Content-Type and answers every error in the front's own shape; submitting a request as a job for the
caller (after asking Ollama whether it would take it); following the job — for a stream, headers at
once and the job's pieces as they come; otherwise its whole result — and cancelling it when the caller
leaves, so the GPU stops."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from app.errors import AppError
from app.models.job import JobStatus
from app.routes.jobs import queue_job
from app.schemas.jobs import SubmitJob
from app.services.accounts.users import User
from app.services.job_types import JOB_TYPES
from app.services.ollama import capabilities
from app.services.queue import store
from app.services.queue.errors import upstream_error
from app.services.realtime import relay

DISCONNECT_CHECK_SECONDS = 0.5
# A failed job's error kind → the status a caller of Ollama's API would have had.
ERROR_STATUS = {"not_found": 404, "rejected": 400, "timeout": 504, "queue_timeout": 503, "cancelled": 499}


class Refused(Exception):
    """No answer for the caller: the request was invalid, or its job did not complete. Each front
    renders `status` and `message` in its own error shape."""

    def __init__(
        self, status: int, message: str, *, job_failed: bool = False, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.job_failed = job_failed  # the request was fine; the job failed (OpenAI: server_error)
        self.headers = headers or {}

    @classmethod
    def of(cls, error: AppError) -> Refused:
        # Clients of these APIs expect 400 for a bad request, not 422. Retry-After and WWW-Authenticate stay.
        status = 400 if error.status_code == 422 else error.status_code
        return cls(status, error.message, headers=dict(error.headers))


class CallerGone(Refused):
    """The HTTP caller disconnected before the job ended; the job was cancelled."""

    def __init__(self) -> None:
        super().__init__(499, "the caller disconnected")


def describe_invalid(error: RequestValidationError) -> str:
    """`messages.0.role: Input should be …` — each problem with the field it is about (`body` left out)."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"] if part != "body") or "body"
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)


class FrontRoute(APIRoute):
    """A drop-in route. Ollama's own examples (`curl -d`) and LiteLLM's Ollama providers send JSON
    without `Content-Type: application/json`, and Ollama reads it anyway: so does this route. Every
    error — bad token, bad body, quota, a failed job — is answered by `render`, in the front's shape."""

    render: ClassVar[Callable[[Refused], Response]]

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        render = type(self).render

        async def route(request: Request) -> Response:
            read_body_as_json(request)
            try:
                return await handler(request)
            except Refused as error:
                return render(error)
            except AppError as error:
                return render(Refused.of(error))
            except RequestValidationError as error:
                return render(Refused(400, describe_invalid(error)))
            except HTTPException as error:
                return render(Refused(error.status_code, str(error.detail), headers=dict(error.headers or {})))

        return route


def read_body_as_json(request: Request) -> None:
    """Make FastAPI parse the body as JSON whatever Content-Type the client sent (before anything has
    read the headers of this request, which are then taken from the scope)."""
    if request.method in ("POST", "PUT", "DELETE"):
        headers = [(name, value) for name, value in request.scope["headers"] if name != b"content-type"]
        request.scope["headers"] = [*headers, (b"content-type", b"application/json")]


def job_refusal(job: store.Job) -> Refused:
    """Why a job that did not complete gives the caller no answer: Ollama's own status and words when
    Ollama refused it, else the status its failure maps to."""
    upstream = upstream_error(job.error_message)
    if upstream is not None:
        return Refused(upstream[0], upstream[1], job_failed=upstream[0] >= 500)
    status = ERROR_STATUS.get(job.error_kind or "", 500)
    return Refused(status, job.error_message or job.status, job_failed=status >= 500)


async def submit(
    request: Request,
    user: User,
    job_type: str,
    body: dict[str, Any],
    details: str,
    check: capabilities.Endpoint | None = None,
) -> store.Job:
    """Queue `body` as a `job_type` job for `user`, validated like any submission, after asking Ollama
    (`check`: as which endpoint) whether it has the model and the model can do what is asked."""
    state = request.app.state
    if check is not None:
        await capabilities.check(state.shown_models, check, body)
    submission = SubmitJob(job_type=job_type, request=body, details=details)
    # Its caller waits for the answer, not for a position: the job's Socket.IO update works that out later.
    return (await queue_job(request, user, submission, with_place=False)).job


def cancel_soon(request: Request, job_id: uuid.UUID, who: str) -> None:
    """Cancel the job from a task of its own: the caller's request is being torn down (its task is
    cancelled), so the cancel must not depend on it."""
    state = request.app.state

    async def cancel() -> None:
        await store.request_cancel(state.db, job_id, by=f"{who} (client disconnected)")
        state.events.job_changed(job_id)

    task = asyncio.create_task(cancel())
    state.background_tasks.add(task)
    task.add_done_callback(state.background_tasks.discard)


@dataclass(frozen=True)
class Waiting:
    """The job has produced nothing yet; `position` jobs are ahead of it (None once it runs)."""

    position: int | None


class Follower:
    """One job's output, for the request that submitted it."""

    def __init__(self, request: Request, job: store.Job, user: User) -> None:
        self.request = request
        self.job = job
        self.user = user
        self.ended: store.Job | None = None

    async def stream(self, keepalive: bool = False) -> AsyncIterator[relay.Event | Waiting]:
        """The job's events as they come. With `keepalive`, `Waiting` every STREAM_KEEPALIVE_SECONDS
        until the first one (a stream's keep-alive, which can carry the queue position). If the
        caller goes away before the job ended (the server cancels this generator), the job is cancelled."""
        state = self.request.app.state
        events = relay.follow(state.db, state.hub, self.job.id)
        pending = asyncio.ensure_future(anext(events))
        try:
            while keepalive:
                yield Waiting(await self._position())
                done, _ = await asyncio.wait({pending}, timeout=state.settings.stream_keepalive_seconds)
                if done:
                    break
            event = await pending
            while True:
                if isinstance(event, relay.Interrupted):  # the job runs again, for nobody: stop it
                    cancel_soon(self.request, self.job.id, self.user.username)
                if isinstance(event, relay.Ended):
                    self.ended = event.job
                yield event
                if self.ended is not None:
                    return
                event = await anext(events)
        finally:
            pending.cancel()
            await events.aclose()
            if self.ended is None:  # the caller left first: stop the GPU work
                cancel_soon(self.request, self.job.id, self.user.username)

    async def outcome(self) -> store.Job:
        """The completed job, for a caller that did not ask for a stream; Refused if it did not
        complete, CallerGone (and the job cancelled) if the caller left first."""
        state = self.request.app.state

        async def end() -> store.Job | None:
            async for event in relay.follow(state.db, state.hub, self.job.id, interrupt=False):
                if isinstance(event, relay.Ended):
                    return event.job
            return None

        waiting = asyncio.ensure_future(end())
        try:
            while True:
                done, _ = await asyncio.wait({waiting}, timeout=DISCONNECT_CHECK_SECONDS)
                if done:
                    break
                if await self.request.is_disconnected():
                    cancel_soon(self.request, self.job.id, self.user.username)
                    raise CallerGone
        finally:
            waiting.cancel()
        ended = waiting.result()
        if ended is None or ended.status != JobStatus.COMPLETED:
            raise job_refusal(ended) if ended is not None else Refused(500, "the job disappeared", job_failed=True)
        return ended

    async def _position(self) -> int | None:
        state = self.request.app.state
        place = await store.place(state.db, self.job.id)
        return place.position if place is not None else None


async def run(
    request: Request, user: User, job_type: str, body: dict[str, Any], details: str, check: Any = None
) -> store.Job:
    """Submit and wait for the completed job (for callers that did not ask for a stream)."""
    job = await submit(request, user, job_type, body, details, check)
    try:
        return await Follower(request, job, user).outcome()
    finally:
        if job_type.startswith("model."):  # a model was pulled, created, copied or removed (or tried to be)
            request.app.state.shown_models.forget()


def known_fields(body: dict[str, Any], job_type: str) -> dict[str, Any]:
    """The fields of `body` the job type takes. Ollama ignores fields it does not know (its JSON
    decoding does), so a client's extra field must not turn into a 400 here."""
    fields = JOB_TYPES[job_type].request_model.model_fields
    names = {field.alias or name for name, field in fields.items()}  # `from`, not `from_`
    return {key: value for key, value in body.items() if key in names}
