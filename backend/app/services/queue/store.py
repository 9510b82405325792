"""The job queue: every database operation on jobs, as functions over one connection.

Callers own the transaction (`async with engine.begin() as conn`), so a job can be enqueued in the
same transaction as the data it refers to. The SQL itself lives in `sql.py`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.job import JobStatus
from app.services.leases import gpu
from app.services.leases import service as leases
from app.services.leases import sql as lease_sql
from app.services.queue import sql


@dataclass(frozen=True)
class Job:
    id: uuid.UUID
    user_id: str
    username: str
    job_type: str
    status: JobStatus
    priority: int
    pool: str
    request_data: dict[str, Any]
    result_data: dict[str, Any] | None
    error_message: str | None
    error_kind: str | None
    retry_count: int
    max_retries: int
    attempt: int
    run_at: datetime
    timeout_seconds: float | None
    queue_deadline: datetime | None
    progress: dict[str, Any]
    details: str | None
    locks: list[str]
    idempotency_key: str | None
    cancel_requested_at: datetime | None
    worker_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Job:
        values = {name: getattr(row, name) for name in cls.__dataclass_fields__}
        for name in ("request_data", "result_data", "progress"):
            if isinstance(values[name], str):  # text() results carry jsonb as its JSON text
                values[name] = json.loads(values[name])
        values["id"] = uuid.UUID(str(values["id"]))
        values["status"] = JobStatus(values["status"])
        return cls(**values)


@dataclass(frozen=True)
class NewJob:
    """What a caller asks for; validated by the job type's handler before it gets here."""

    user_id: str
    username: str
    job_type: str
    request_data: dict[str, Any]
    priority: int = 0
    pool: str = "gpu"
    details: str | None = None
    max_retries: int = 3
    timeout_seconds: float | None = None
    queue_deadline: datetime | None = None
    idempotency_key: str | None = None
    locks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Enqueued:
    job: Job
    created: bool  # False: the idempotency key matched an existing job, which is returned instead


@dataclass(frozen=True)
class SlotHolder:
    """What a claim records on the lease, so anyone can see who holds the GPU, doing what."""

    operation: str
    details: str | None


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


async def enqueue(conn: AsyncConnection, new: NewJob) -> Enqueued:
    params = {
        "user_id": new.user_id,
        "username": new.username,
        "job_type": new.job_type,
        "priority": new.priority,
        "pool": new.pool,
        "request_data": _dumps(new.request_data),
        "details": new.details,
        "max_retries": new.max_retries,
        "timeout_seconds": new.timeout_seconds,
        "queue_deadline": new.queue_deadline,
        "idempotency_key": new.idempotency_key,
        "locks": list(new.locks),
    }
    row = (await conn.execute(text(sql.ENQUEUE_JOB), params)).first()
    if row is not None:
        return Enqueued(Job.from_row(row), created=True)
    existing = await conn.execute(
        text(sql.JOB_BY_IDEMPOTENCY_KEY), {"user_id": new.user_id, "idempotency_key": new.idempotency_key}
    )
    return Enqueued(Job.from_row(existing.one()), created=False)


async def get_job(conn: AsyncConnection, job_id: uuid.UUID) -> Job | None:
    row = (await conn.execute(text(sql.GET_JOB), {"job_id": job_id})).first()
    return Job.from_row(row) if row is not None else None


async def queue_position(conn: AsyncConnection, job_id: uuid.UUID) -> int:
    return int((await conn.execute(text(sql.QUEUE_POSITION), {"job_id": job_id})).scalar_one())


async def claim(
    conn: AsyncConnection, *, pool: str, capacity: int, worker_id: str, ttl: float, describe: Any
) -> Job | None:
    """Claim the next eligible job of `pool` together with a free GPU slot, or nothing.

    `describe(job_type, request_data, details) -> SlotHolder` says what the lease should show.
    Must run inside a transaction: the job row lock, the slot lease and the status change commit
    together or not at all.
    """
    keys = gpu.slot_keys(pool, capacity)
    held = (await conn.execute(text(lease_sql.HELD_SLOT_COUNT), {"keys": keys})).scalar_one()
    if held >= capacity:
        return None
    picked = (await conn.execute(text(sql.PICK_NEXT_JOB), {"pool": pool})).first()
    if picked is None:
        return None
    job = Job.from_row(picked)
    holder = describe(job.job_type, job.request_data, job.details)
    lease = leases.LeaseRequest(
        holder=str(job.id),
        attempt=job.attempt + 1,
        operation=holder.operation,
        details=holder.details,
        user_id=job.user_id,
        username=job.username,
        task_ref=f"job:{job.id}",
        ttl=ttl,
    )
    if not await _acquire_all(conn, [keys, *([key] for key in job.locks)], lease):
        return None  # another claimer took the last slot (or a key) first; nothing was written
    row = (
        await conn.execute(text(sql.MARK_RUNNING), {"job_id": job.id, "attempt": job.attempt, "worker_id": worker_id})
    ).one()
    return Job.from_row(row)


async def _acquire_all(conn: AsyncConnection, choices: list[list[str]], lease: leases.LeaseRequest) -> bool:
    """Take one key of each choice (the first free GPU slot, then each extra key), or none at all."""
    if len(choices) == 1:  # one statement: it takes the lease or writes nothing
        return await leases.try_acquire(conn, lease, choices[0]) is not None
    savepoint = await conn.begin_nested()  # several: a key lost to a concurrent claimer undoes the others
    for keys in choices:
        if await leases.try_acquire(conn, lease, keys) is None:
            await savepoint.rollback()
            return False
    await savepoint.commit()
    return True


async def heartbeat(conn: AsyncConnection, job: Job, ttl: float) -> tuple[bool, bool]:
    """Extend the job's leases. Returns (still_held, cancel_requested)."""
    rows = (await conn.execute(text(sql.HEARTBEAT), {"holder": str(job.id), "attempt": job.attempt, "ttl": ttl})).all()
    return bool(rows), any(row.cancel_requested_at is not None for row in rows)


async def update_progress(conn: AsyncConnection, job: Job, progress: dict[str, Any]) -> bool:
    result = await conn.execute(
        text(sql.UPDATE_PROGRESS), {"job_id": job.id, "attempt": job.attempt, "progress": _dumps(progress)}
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def _finish(conn: AsyncConnection, sql: str, job: Job, worker_id: str, **params: Any) -> bool:
    params.setdefault("message", None)
    row = (
        await conn.execute(text(sql), {"job_id": job.id, "attempt": job.attempt, "worker_id": worker_id, **params})
    ).first()
    return row is not None


async def complete(
    conn: AsyncConnection, job: Job, worker_id: str, result: dict[str, Any], progress: dict[str, Any]
) -> bool:
    """Mark a running job completed. False when the fence rejected it (the job is no longer ours)."""
    return await _finish(conn, sql.COMPLETE_JOB, job, worker_id, result=_dumps(result), progress=_dumps(progress))


async def fail(
    conn: AsyncConnection, job: Job, worker_id: str, message: str, error_kind: str, progress: dict[str, Any]
) -> bool:
    return await _finish(
        conn, sql.FAIL_JOB, job, worker_id, message=message, error_kind=error_kind, progress=_dumps(progress)
    )


async def schedule_retry(conn: AsyncConnection, job: Job, worker_id: str, message: str, delay: float) -> bool:
    return await _finish(conn, sql.RETRY_JOB, job, worker_id, message=message, delay=delay)


async def mark_cancelled(
    conn: AsyncConnection, job: Job, worker_id: str, message: str, progress: dict[str, Any]
) -> bool:
    return await _finish(conn, sql.CANCEL_RUNNING_JOB, job, worker_id, message=message, progress=_dumps(progress))


async def requeue(conn: AsyncConnection, job: Job, worker_id: str) -> bool:
    return await _finish(conn, sql.REQUEUE_JOB, job, worker_id, message="re-queued: worker shutting down")


async def request_cancel(conn: AsyncConnection, job_id: uuid.UUID, by: str) -> str | None:
    """Cancel a job: a queued one at once, a running one through its worker. Returns the job's
    status after the call (`cancelled`, or `running` while its worker stops it), or None when the
    job was already finished."""
    message = f"Cancelled by {by}."
    row = (await conn.execute(text(sql.CANCEL_QUEUED_JOB), {"job_id": job_id, "message": message})).first()
    if row is not None:
        return str(row.status)
    row = (await conn.execute(text(sql.REQUEST_CANCEL_RUNNING_JOB), {"job_id": job_id})).first()
    return str(row.status) if row is not None else None


async def rescue_lost_jobs(conn: AsyncConnection) -> list[tuple[uuid.UUID, str]]:
    rows = (await conn.execute(text(sql.RESCUE_LOST_JOBS))).all()
    return [(uuid.UUID(str(row.id)), str(row.status)) for row in rows]


async def expire_queued_jobs(conn: AsyncConnection) -> list[uuid.UUID]:
    """Fail queued jobs past their queue deadline; their ids."""
    return [uuid.UUID(str(row.id)) for row in await conn.execute(text(sql.EXPIRE_QUEUED_JOBS))]


async def next_run_at(conn: AsyncConnection, pool: str) -> datetime | None:
    return (await conn.execute(text(sql.NEXT_RUN_AT), {"pool": pool})).scalar_one()


async def delete_old_jobs(conn: AsyncConnection, days: float, batch: int = 10_000) -> int:
    """Retention: finished jobs older than `days`; never queued or running ones."""
    deleted = 0
    while True:
        count = len((await conn.execute(text(sql.DELETE_OLD_JOBS), {"days": days, "batch": batch})).all())
        deleted += count
        if count < batch:
            return deleted
