"""What the drop-in Ollama and OpenAI fronts share: submit a request as a job for the caller, wait for
its first output (cancelling it if the caller leaves meanwhile), stream the rest, and cancel the job
if the caller disconnects mid-stream, so the GPU stops."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request

from app.errors import AppError
from app.models.job import JobStatus
from app.routes.jobs import queue_job
from app.schemas.jobs import SubmitJob
from app.services.accounts.users import User
from app.services.queue import store
from app.services.realtime import relay

DISCONNECT_CHECK_SECONDS = 0.5
ERROR_STATUS = {"not_found": 404, "timeout": 504, "queue_timeout": 503, "cancelled": 499}


class Refused(Exception):
    """No answer for the caller: the request was invalid, or its job did not complete. Each front
    renders `status` and `message` in its own error shape."""

    def __init__(self, status: int, message: str, *, job_failed: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.job_failed = job_failed  # the request was fine; the job failed (OpenAI: server_error)


class CallerGone(Refused):
    """The HTTP caller disconnected before the job produced anything; the job was cancelled."""

    def __init__(self) -> None:
        super().__init__(499, "the caller disconnected")


def check_completed(job: store.Job) -> store.Job:
    """The job, if it completed; else Refused with the HTTP status its failure maps to."""
    if job.status != JobStatus.COMPLETED:
        raise Refused(ERROR_STATUS.get(job.error_kind or "", 500), job.error_message or job.status, job_failed=True)
    return job


async def submit(request: Request, user: User, job_type: str, body: dict[str, Any], details: str) -> store.Job:
    """Queue `body` as a `job_type` job for `user`, validated like any submission (Refused, 400, if not)."""
    submission = SubmitJob(job_type=job_type, request=body, details=details)
    try:
        return (await queue_job(request, user, submission)).job
    except AppError as error:  # clients of these APIs expect 400 for a bad request, not 422
        raise Refused(400 if error.status_code == 422 else error.status_code, error.message) from error


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


class Follower:
    """The job's output as an async iterator, started early so the first event can be awaited apart."""

    def __init__(self, request: Request, job: store.Job, user: User) -> None:
        self.request = request
        self.job = job
        self.user = user
        self.events = relay.follow(request.app.state.db, request.app.state.hub, job.id)
        self.ended: store.Job | None = None

    async def first(self) -> relay.Text | relay.Ended:
        """Wait for the first token (or the end), watching for the caller leaving while the job queues."""
        pending = asyncio.ensure_future(anext(self.events))
        while True:
            done, _ = await asyncio.wait({pending}, timeout=DISCONNECT_CHECK_SECONDS)
            if done:
                return self._seen(pending.result())
            if await self.request.is_disconnected():
                pending.cancel()
                cancel_soon(self.request, self.job.id, self.user.username)
                raise CallerGone

    async def rest(self) -> AsyncIterator[relay.Text | relay.Ended]:
        try:
            async for event in self.events:
                yield self._seen(event)
        finally:
            if self.ended is None:  # the caller went away mid-stream: stop the GPU work
                cancel_soon(self.request, self.job.id, self.user.username)

    async def text(self) -> tuple[str, store.Job]:
        """Everything, for a caller that did not ask for a stream."""
        parts: list[str] = []
        event = await self.first()
        while True:
            if isinstance(event, relay.Ended):
                return "".join(parts), event.job
            parts.append(event.delta)
            event = self._seen(await anext(self.events))

    def _seen(self, event: relay.Text | relay.Ended) -> relay.Text | relay.Ended:
        if isinstance(event, relay.Ended):
            self.ended = event.job
        return event


async def run(request: Request, user: User, job_type: str, body: dict[str, Any], details: str) -> tuple[str, store.Job]:
    """Submit and wait for the whole answer (for callers that did not ask for a stream): its text and
    the completed job. Refused (CallerGone included) otherwise."""
    job = await submit(request, user, job_type, body, details)
    text, ended = await Follower(request, job, user).text()
    return text, check_completed(ended)
