"""What the job endpoints do: submit, look up, list, cancel, retry, stats. Ownership is checked here,
once: a user sees only their own jobs (another user's job is 'not found'); admins see all."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from app.models.job import TERMINAL_STATUSES, JobStatus
from app.schemas.jobs import SubmitJob
from app.services.accounts.users import User
from app.services.job_types import JOB_TYPES
from app.services.leases import gpu
from app.services.leases import service as leases
from app.services.queue import sql, store
from app.services.queue.errors import PermanentError
from app.services.queue.progress import public_progress
from app.services.usage import service as usage

T = TypeVar("T")
DEFAULT_PRIORITY = 0


@dataclass(frozen=True)
class Submitted:
    job: store.Job
    created: bool
    position: int | None
    eta_seconds: float | None
    lock: gpu.GpuLock


class GpuBusy(Conflict):
    """`if_busy=reject` and every GPU slot is held: the seeds' message, naming the holder."""

    code = "gpu_busy"


async def submit(
    conn: AsyncConnection,
    user: User,
    body: SubmitJob,
    settings: Settings,
    idempotency_key: str | None = None,
    *,
    reject_if_busy: bool = False,
) -> Submitted:
    _check_storable(body.model_dump(), "body")
    kind = JOB_TYPES.get(body.job_type)
    if kind is None:
        raise InvalidInput(
            f"Unknown job_type {body.job_type!r}. Use one of: {', '.join(sorted(JOB_TYPES))}.",
            {"field": "job_type", "allowed": sorted(JOB_TYPES)},
        )
    try:
        request = kind.parse(body.request)
    except PermanentError as error:
        raise InvalidInput(str(error), {"field": "request"}) from error
    await kind.authorize(conn, user, request)
    if body.priority > DEFAULT_PRIORITY and not user.is_admin:
        raise Forbidden(
            f"priority {body.priority} is above the default ({DEFAULT_PRIORITY}): only admins may raise a job's "
            "priority. Leave it out, or use a lower value.",
            {"field": "priority"},
        )
    for key in body.locks:
        leases.check_resource_key(key)
    lock = await gpu.gpu_lock(conn, "gpu", settings.max_concurrent_jobs)
    if reject_if_busy and lock.locked:
        first = lock.holders[0]
        raise GpuBusy(
            gpu.busy_message(first),
            {"holder": _public(first), "holders": [_public(holder) for holder in lock.holders]},
        )
    await usage.check_daily_limit(conn, user, settings)
    queued = (
        await conn.execute(
            text(sql.QUEUED_COUNT_FOR_USER),
            {"pool": "gpu", "user_id": user.id, "limit": settings.max_queued_per_user},
        )
    ).scalar_one()
    if queued >= settings.max_queued_per_user:
        raise TooManyRequests(
            f"You already have {queued} jobs queued (MAX_QUEUED_PER_USER={settings.max_queued_per_user}). "
            "Wait for some to finish, or cancel some.",
            {"queued": queued, "limit": settings.max_queued_per_user},
            retry_after=max(5, int(await _mean_run_seconds(conn, "gpu") or 30)),
        )
    deadline = (
        datetime.now(UTC) + timedelta(seconds=body.queue_deadline_seconds) if body.queue_deadline_seconds else None
    )
    new = store.NewJob(
        user_id=user.id,
        username=user.username,
        job_type=body.job_type,
        request_data=request.model_dump(mode="json", exclude_none=True),
        priority=body.priority,
        details=body.details,
        max_retries=_first_set(body.max_retries, kind.default_max_retries, settings.max_job_retries),
        timeout_seconds=_first_set(body.timeout_seconds, kind.default_timeout_seconds),
        queue_deadline=deadline,
        idempotency_key=idempotency_key,
        locks=tuple(body.locks),
    )
    enqueued = await store.enqueue(conn, new)
    place = await position(conn, enqueued.job)
    return Submitted(
        job=enqueued.job,
        created=enqueued.created,
        position=place,
        eta_seconds=await eta_seconds(conn, enqueued.job, place, lock.holders, settings.max_concurrent_jobs),
        lock=lock,
    )


def _public(holder: leases.Holder) -> dict[str, Any]:
    """A holder as anyone may see it: another user's text stays out of a 409."""
    return {**holder.as_dict(), "progress": public_progress(holder.progress)}


def _check_storable(value: Any, where: str) -> None:
    """PostgreSQL stores neither NUL characters nor unpaired UTF-16 surrogates (which JSON can carry as
    `\\u0000`, `\\ud800`): refuse them with the field's name instead of failing at the INSERT."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key, where)
            _check_storable(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{where}.{index}")
    elif isinstance(value, str) and ("\x00" in value or _has_surrogate(value)):
        raise InvalidInput(
            f"{where}: text with a NUL character or an unpaired surrogate cannot be stored; remove it.",
            {"field": where},
        )


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _first_set(*values: T) -> T | None:
    """The first value that is not None: what the caller asked, else the job type's default, else the service's."""
    return next((value for value in values if value is not None), None)


async def _mean_run_seconds(conn: AsyncConnection, pool: str) -> float | None:
    value = (await conn.execute(text(sql.RECENT_RUN_SECONDS), {"pool": pool})).scalar_one()
    return float(value) if value is not None else None


async def eta_seconds(
    conn: AsyncConnection, job: store.Job, place: int | None, holders: list[leases.Holder], capacity: int
) -> float | None:
    """Seconds until the job starts: the jobs ahead of it, at the recent mean run time, spread over
    the slots, plus what is left of the running ones. None until a job of the pool has completed."""
    if job.status != JobStatus.QUEUED or place is None:
        return None
    mean = await _mean_run_seconds(conn, job.pool)
    if mean is None:
        return None
    running_left = sum(max(0.0, mean - holder.elapsed_seconds) for holder in holders) / max(1, capacity)
    return round(running_left + place * mean / max(1, capacity), 1)


async def get_owned(conn: AsyncConnection, user: User, job_id: uuid.UUID) -> store.Job:
    """The job, if this user may see it. Another user's job is 'not found', so ids leak nothing."""
    job = await store.get_job(conn, job_id)
    if job is None or (job.user_id != user.id and not user.is_admin):
        raise NotFound(f"No job {job_id}.", {"job_id": str(job_id)})
    return job


async def position(conn: AsyncConnection, job: store.Job) -> int | None:
    return await store.queue_position(conn, job.id) if job.status == JobStatus.QUEUED else None


async def waiting_for(conn: AsyncConnection, job: store.Job) -> list[str]:
    """For a queued job that names extra lease keys: which of them someone else holds now."""
    if job.status != JobStatus.QUEUED or not job.locks:
        return []
    return [
        f"{holder.key} (held by {holder.username or holder.holder} until {holder.expires_at:%H:%M:%S %Z})"
        for holder in await leases.active(conn, keys=list(job.locks))
    ]


async def cancel(conn: AsyncConnection, user: User, job_id: uuid.UUID) -> str:
    job = await get_owned(conn, user, job_id)
    status = await store.request_cancel(conn, job.id, by=user.username)
    if status is None:
        raise Conflict(f"Job {job_id} already ended ({job.status}); nothing to cancel.", {"status": job.status})
    return status


async def retry(conn: AsyncConnection, user: User, job_id: uuid.UUID) -> store.Job:
    job = await get_owned(conn, user, job_id)
    params = {"job_id": job.id, "message": f"retried by {user.username}"}
    if (await conn.execute(text(sql.RETRY_ENDED_JOB), params)).first() is None:
        raise Conflict(
            f"Job {job_id} is {job.status}: only failed or cancelled jobs can be retried.", {"status": job.status}
        )
    retried = await store.get_job(conn, job.id)
    assert retried is not None
    return retried


def encode_cursor(job: store.Job) -> str:
    return base64.urlsafe_b64encode(f"{job.created_at.isoformat()}|{job.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, job_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), uuid.UUID(job_id)
    except ValueError as error:
        raise InvalidInput(
            "Invalid cursor: pass `next_cursor` from the previous page as is.", {"field": "cursor"}
        ) from error


async def list_jobs(
    conn: AsyncConnection,
    user: User,
    *,
    statuses: list[str] | None,
    job_type: str | None,
    since: datetime | None,
    cursor: str | None,
    limit: int,
    all_users: bool,
) -> tuple[list[store.Job], str | None]:
    """Newest first. Admins see everyone's jobs with `all_users`; others only ever their own."""
    before_created, before_id = decode_cursor(cursor) if cursor else (None, None)
    rows = await conn.execute(
        text(sql.LIST_JOBS),
        {
            "user_id": None if (all_users and user.is_admin) else user.id,
            "status": statuses or None,
            "job_type": job_type,
            "since": since,
            "before_created": before_created,
            "before_id": before_id,
            "limit": limit + 1,
        },
    )
    found = [store.Job.from_row(row) for row in rows]
    page = found[:limit]
    return page, encode_cursor(page[-1]) if len(found) > limit else None


async def stats(
    conn: AsyncConnection, user: User, *, since: datetime | None, all_users: bool, pool: str = "gpu"
) -> dict[str, Any]:
    rows = await conn.execute(
        text(sql.JOB_STATS), {"user_id": None if (all_users and user.is_admin) else user.id, "since": since}
    )
    by_type: dict[str, Any] = {}
    total: dict[str, Any] = {}
    for row in rows:
        figures = _figures(row)
        if row.job_type is None:
            total = figures
        else:
            by_type[row.job_type] = figures
    length = (await conn.execute(text(sql.QUEUE_LENGTH), {"pool": pool})).scalar_one()
    return {**(total or _figures(None)), "queue_length": int(length), "by_type": by_type}


def _figures(row: Any) -> dict[str, Any]:
    def seconds(name: str) -> float | None:
        value = getattr(row, name, None) if row is not None else None
        return round(float(value), 3) if value is not None else None

    counts = {
        name: int(getattr(row, name) or 0) if row is not None else 0
        for name in ("total", "queued", "running", "completed", "failed", "cancelled", "retries")
    }
    ended = counts["completed"] + counts["failed"]
    return {
        **counts,
        "success_rate": round(counts["completed"] / ended, 4) if ended else None,
        "run_seconds": {"mean": seconds("run_mean"), "p50": seconds("run_p50"), "p95": seconds("run_p95")},
        "wait_seconds": {"mean": seconds("wait_mean"), "p50": seconds("wait_p50"), "p95": seconds("wait_p95")},
    }


async def wait_for_end(engine: AsyncEngine, job_id: uuid.UUID, within: float) -> store.Job | None:
    """For `?wait=`: the job once it has ended, or None if it is still going after `within` seconds.
    Polls the row (cheap, indexed by primary key) at a gentle, growing interval."""
    deadline = time.monotonic() + within
    interval = 0.02
    while True:
        async with engine.connect() as conn:
            job = await store.get_job(conn, job_id)
        if job is None or job.status in TERMINAL_STATUSES:
            return job
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        await asyncio.sleep(min(interval, remaining))
        interval = min(interval * 1.5, 0.5)
