"""What the job endpoints do: submit, look up, cancel. Ownership is checked here, once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.errors import Conflict, InvalidInput, NotFound
from app.schemas.jobs import SubmitJob
from app.services import queue
from app.services.handlers import HANDLERS
from app.services.job_errors import PermanentError


@dataclass(frozen=True)
class User:
    id: str
    username: str
    is_admin: bool = False


async def submit(
    conn: AsyncConnection, user: User, body: SubmitJob, settings: Settings, idempotency_key: str | None = None
) -> queue.Enqueued:
    handler = HANDLERS.get(body.job_type)
    if handler is None:
        raise InvalidInput(
            f"Unknown job_type {body.job_type!r}. Use one of: {', '.join(sorted(HANDLERS))}.",
            {"field": "job_type", "allowed": sorted(HANDLERS)},
        )
    try:
        request = handler.parse(body.request)
    except PermanentError as error:
        raise InvalidInput(str(error), {"field": "request"}) from error
    deadline = (
        datetime.now(UTC) + timedelta(seconds=body.queue_deadline_seconds) if body.queue_deadline_seconds else None
    )
    new = queue.NewJob(
        user_id=user.id,
        username=user.username,
        job_type=body.job_type,
        request_data=request.model_dump(mode="json", exclude_none=True),
        priority=body.priority,
        details=body.details,
        max_retries=settings.max_job_retries if body.max_retries is None else body.max_retries,
        timeout_seconds=body.timeout_seconds,
        queue_deadline=deadline,
        idempotency_key=idempotency_key,
    )
    return await queue.enqueue(conn, new)


async def get_owned(conn: AsyncConnection, user: User, job_id: uuid.UUID) -> queue.Job:
    """The job, if this user may see it. Another user's job is 'not found', so ids leak nothing."""
    job = await queue.get_job(conn, job_id)
    if job is None or (job.user_id != user.id and not user.is_admin):
        raise NotFound(f"No job {job_id}.", {"job_id": str(job_id)})
    return job


async def position(conn: AsyncConnection, job: queue.Job) -> int | None:
    return await queue.queue_position(conn, job.id) if job.status == "queued" else None


async def cancel(conn: AsyncConnection, user: User, job_id: uuid.UUID) -> str:
    job = await get_owned(conn, user, job_id)
    status = await queue.request_cancel(conn, job.id, by=user.username)
    if status is None:
        raise Conflict(f"Job {job_id} already ended ({job.status}); nothing to cancel.", {"status": job.status})
    return status
