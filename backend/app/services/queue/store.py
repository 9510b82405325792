"""The job store: every database operation on jobs, as functions over one asyncpg connection (or pool).

Each operation is one statement of `sql.py`, auto-committed unless the caller opened a transaction
(`async with conn.transaction()`), so a job can be enqueued in the same transaction as the data it
refers to.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from app.db import Executor
from app.models.job import JobStatus
from app.services.queue import sql


@dataclass(frozen=True, slots=True)
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
    model: str | None = None  # the model it runs, as hosts name it (placement compares it with what is loaded)
    requires: list[str] = field(default_factory=list)  # host labels it needs (`host:<name>` pins it)
    host: str | None = None  # the GPU host it runs (or last ran) on

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Job:
        values = {name: row[name] for name in _FIELDS}
        values["status"] = JobStatus(values["status"])
        return cls(**values)


_FIELDS = tuple(Job.__dataclass_fields__)


@dataclass(frozen=True)
class NewJob:
    """What a caller asks for; validated by the job type before it gets here."""

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
    model: str | None = None  # the model the request names (model_key form)
    # For a job type that runs a model: the model when the request names none and no default is set
    # (DEFAULT_MODEL); the statement takes the user's or everyone's default first. None: runs no model.
    fallback_model: str | None = None
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Enqueued:
    job: Job
    created: bool  # False: the idempotency key matched an existing job, which is returned instead


class QuotaExceeded(Exception):
    """The user already has `limit` jobs queued; nothing was written."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"queue quota of {limit} reached")
        self.limit = limit


def _quota_exceeded(error: asyncpg.PostgresError, limit: int) -> QuotaExceeded | None:
    return QuotaExceeded(limit) if getattr(error, "sqlstate", None) == sql.QUOTA_SQLSTATE else None


async def enqueue(conn: Executor, new: NewJob, *, quota: int) -> Enqueued:
    """Queue a job, or return the job already queued under its idempotency key. Raises QuotaExceeded
    when the user already has `quota` jobs queued (checked in the same statement that inserts)."""
    try:
        row = await sql.ENQUEUE_JOB.fetchrow(
            conn,
            user_id=new.user_id,
            username=new.username,
            job_type=new.job_type,
            priority=new.priority,
            pool=new.pool,
            request_data=new.request_data,
            details=new.details,
            max_retries=new.max_retries,
            timeout_seconds=new.timeout_seconds,
            queue_deadline=new.queue_deadline,
            idempotency_key=new.idempotency_key,
            locks=list(new.locks),
            model=new.model,
            fallback_model=new.fallback_model,
            requires=list(new.requires),
            quota=quota,
        )
    except asyncpg.PostgresError as error:
        raise _quota_exceeded(error, quota) or error from None
    if row is not None:
        return Enqueued(Job.from_row(row), created=True)
    existing = await sql.JOB_BY_IDEMPOTENCY_KEY.fetchrow(conn, user_id=new.user_id, idempotency_key=new.idempotency_key)
    assert existing is not None  # the conflict that made the INSERT skip
    return Enqueued(Job.from_row(existing), created=False)


async def get_job(conn: Executor, job_id: uuid.UUID) -> Job | None:
    row = await sql.GET_JOB.fetchrow(conn, job_id=job_id)
    return Job.from_row(row) if row is not None else None


@dataclass(frozen=True)
class Place:
    """A job and, while it is queued, what its place and ETA are worked out from."""

    job: Job
    position: int | None
    holders: list[dict[str, Any]] = field(default_factory=list)  # the GPU slots' holders (JOB_VIEW's columns)
    ahead: dict[str, int] = field(default_factory=dict)  # queued jobs ahead, by job type
    mean_seconds: dict[str, float | None] = field(default_factory=dict)  # recent mean run time by job type
    queue_length: int | None = None
    slots: int = 1  # GPU slots of the hosts that take work (the whole fleet's)


AHEAD_SAMPLE = 100  # queued jobs just before a job whose types estimate the mix of all the jobs ahead of it


async def place(
    conn: Executor, job_id: uuid.UUID, *, with_queue_length: bool = False, pool: str = "gpu"
) -> Place | None:
    """The job with its queue position, the GPU slots' holders and ETA inputs, in one statement."""
    row = await sql.JOB_VIEW.fetchrow(
        conn, job_id=job_id, with_queue_length=with_queue_length, pool=pool, sample=AHEAD_SAMPLE
    )
    if row is None:
        return None
    return Place(
        job=Job.from_row(row),
        position=row["position"],
        holders=row["holders"],
        ahead={kind: int(count) for kind, count in row["ahead_types"].items()},
        mean_seconds={kind: float(value) if value is not None else None for kind, value in row["mean_seconds"].items()},
        queue_length=row["queue_length"],
        slots=max(1, row["slots"]),
    )


async def queue_length(conn: Executor, pool: str) -> int:
    return int(await sql.QUEUE_LENGTH.fetchval(conn, pool=pool))


async def mean_run_seconds(conn: Executor, pool: str) -> float | None:
    value = await sql.RECENT_RUN_SECONDS.fetchval(conn, pool=pool)
    return float(value) if value is not None else None


# ---- claiming, running, finishing --------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """How claims choose among queued jobs (SCHEDULER, SCHEDULER_MAX_BYPASS_SECONDS): `fifo` is model-blind;
    otherwise a host prefers jobs whose model it has loaded, and leaves a cold job to a host that has it
    loaded and is free sooner than a load would take — for at most `bypass` seconds per job."""

    fifo: bool = False
    bypass: float = 120.0
    load_seconds: float = 10.0  # a model load's cost on a host that has not loaded it yet (learned after)
    run_seconds: float = 30.0  # a job's run time before any of its model ran on the host


@dataclass(frozen=True)
class Slots:
    """What a claim needs to know besides the job: the host whose slots it takes (their lease keys), the
    lease's length, how long an expired job lease stays untouchable, the names the lock shows per job
    type, and how jobs are placed."""

    pool: str
    keys: list[str]
    ttl: float
    grace: float
    operations: Mapping[str, str]
    host: str = "default"
    placement: Placement = Placement()
    # Reserve ahead (sql._reserve_ahead): the job a started job's hand-off would take is kept for it while
    # its lease lasts, if both are of `early_types`.
    reserve_ahead: bool = False
    early_types: tuple[str, ...] = ()

    def params(self, worker_id: str) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "worker_id": worker_id,
            "ttl": self.ttl,
            "job_types": list(self.operations),
            "operations": list(self.operations.values()),
            "host": self.host,
            "fifo": self.placement.fifo,
            "bypass": self.placement.bypass,
            "load_seconds": self.placement.load_seconds,
            "run_seconds": self.placement.run_seconds,
            "reserve_ahead": self.reserve_ahead,
            "early_types": list(self.early_types),
        }


@dataclass(frozen=True, slots=True)
class Claimed:
    job: Job
    slot: str  # the lease key of the GPU slot it holds
    ahead: Job | None = None  # the queued job reserved to follow it on the slot (sql._reserve_ahead)


def _claimed(rows: list[asyncpg.Record]) -> Claimed | None:
    """The job a statement started (its row `what` = 'started', with the slot), with the job it reserved."""
    started = next((row for row in rows if row["what"] == "started" and row["id"] is not None), None)
    if started is None:
        return None
    ahead = next((Job.from_row(row) for row in rows if row["what"] == "reserved"), None)
    return Claimed(Job.from_row(started), started["slot"], ahead)


async def claim(conn: Executor, slots: Slots, worker_id: str) -> Claimed | None:
    """Claim the next eligible job together with a free GPU slot (one statement), or nothing.

    A claim can lose a race: a concurrent claimer committed the slot it chose after this statement's
    snapshot was taken (or an extra lease key was taken meanwhile). Then it tries again, with a fresh
    snapshot, as long as there may be another free slot: no claim gives up while a slot is free. Each
    lost race means another claimer took a slot, so this ends; the bound is only a safety net."""
    for _ in range(10 * len(slots.keys) + 10):
        rows = await sql.CLAIM.fetch(conn, slot_keys=slots.keys, grace=slots.grace, **slots.params(worker_id))
        if not rows:
            return None  # no free slot, or no eligible job
        if (claimed := _claimed(rows)) is not None:
            return claimed
        row = rows[0]  # the pick, not started (a job is reserved only after a start)
        if row["leases_taken"]:  # leases taken but the job not started: give them back
            await release_leases(conn, row["picked_id"], row["picked_attempt"])
    return None


async def reserve_ahead(conn: Executor, slots: Slots, running: Job) -> Job | None:
    """For `running` (a job started on `slots`' host, still running this attempt there): reserve the job its
    hand-off would take now, as a claim does — the one reserved already or a fairer one that came since,
    which then replaces it (sql.RESERVE_AHEAD). The job reserved, or None (nothing to reserve, reserving is
    off, or it no longer runs)."""
    if not slots.reserve_ahead or running.job_type not in slots.early_types:
        return None
    params = slots.params(worker_id="")  # (the statement takes the ones it names)
    row = await sql.RESERVE_AHEAD.fetchrow(conn, job_id=running.id, attempt=running.attempt, **params)
    return Job.from_row(row) if row is not None else None


async def release_leases(conn: Executor, job_id: uuid.UUID, attempt: int) -> None:
    """Give back every lease of the job's attempt (recorded as released in the lease history)."""
    await sql.RELEASE_LEASES.execute(conn, job_id=job_id, attempt=attempt)


@dataclass(frozen=True, slots=True)
class Renewal:
    key: str
    job_id: uuid.UUID | None
    attempt: int | None
    cancel_requested: bool


async def heartbeat(conn: Executor, worker_id: str, ttl: float, running: list[tuple[uuid.UUID, int]]) -> list[Renewal]:
    """Renew the live leases of the jobs (id, attempt) this worker still runs; what was renewed (a lease
    missing here was lost). A job it stopped is not renewed, even if its outcome is not written yet."""
    rows = await sql.HEARTBEAT.fetch(
        conn,
        worker_id=worker_id,
        ttl=ttl,
        job_ids=[job_id for job_id, _ in running],
        attempts=[attempt for _, attempt in running],
    )
    return [Renewal(row["key"], row["job_id"], row["attempt"], bool(row["cancel_requested"])) for row in rows]


async def write_progress(conn: Executor, updates: list[tuple[uuid.UUID, int, dict[str, Any]]]) -> set[uuid.UUID]:
    """Progress of several running jobs in one statement (fenced by attempt); the ids written."""
    rows = await sql.UPDATE_PROGRESS.fetch(
        conn,
        job_ids=[job_id for job_id, _, _ in updates],
        attempts=[attempt for _, attempt, _ in updates],
        progress=[progress for _, _, progress in updates],
    )
    return {row["id"] for row in rows}


@dataclass(frozen=True)
class Outcome:
    """How a running job ended: `kind` is one of sql.OUTCOMES."""

    kind: str
    result: dict[str, Any] | None = None
    progress: dict[str, Any] | None = None
    message: str | None = None
    error_kind: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Finished:
    job: Job | None  # the job as written; None when the fence rejected the write (no longer ours)
    next: Claimed | None  # the job its slot was handed to, already marked running


async def finish(
    conn: Executor,
    claimed: Claimed,
    outcome: Outcome,
    *,
    worker_id: str,
    slots: Slots,
    hand_on: bool,
    keep_slot: bool = False,
) -> Finished:
    """Write the outcome (fenced by attempt); with `hand_on`, give the slot to the next job in the same
    statement, else free it."""
    job = claimed.job
    rows = await sql.FINISH.fetch(
        conn,
        outcome=outcome.kind,
        result=outcome.result,
        progress=outcome.progress,
        message=outcome.message,
        error_kind=outcome.error_kind,
        delay=outcome.delay,
        job_id=job.id,
        attempt=job.attempt,
        slot=claimed.slot,
        hand_on=hand_on,
        keep_slot=keep_slot,
        **slots.params(worker_id),
    )
    finished = next((Job.from_row(row) for row in rows if row["what"] == "finished"), None)
    return Finished(finished, _claimed(rows))


# ---- cancel, retry -----------------------------------------------------------------------------------


async def request_cancel(conn: Executor, job_id: uuid.UUID, by: str) -> str | None:
    """Cancel a job: a queued one at once, a running one through its worker. Returns the job's status
    after the call (`cancelled`, or `running` while its worker stops it), or None when the job was
    already finished."""
    message = f"Cancelled by {by}."
    row = await sql.CANCEL_QUEUED_JOB.fetchrow(conn, job_id=job_id, message=message)
    if row is not None:
        return str(row["status"])
    row = await sql.REQUEST_CANCEL_RUNNING_JOB.fetchrow(conn, job_id=job_id)
    return str(row["status"]) if row is not None else None


async def retry_ended(conn: Executor, job_id: uuid.UUID, *, by: str, quota: int) -> Job | None:
    """A failed or cancelled job queued again with a fresh retry budget; None if it was not ended.
    Raises QuotaExceeded when its user already has `quota` jobs queued."""
    try:
        row = await sql.RETRY_ENDED_JOB.fetchrow(conn, job_id=job_id, message=f"retried by {by}", quota=quota)
    except asyncpg.PostgresError as error:
        raise _quota_exceeded(error, quota) or error from None
    return Job.from_row(row) if row is not None else None


# ---- background services ---------------------------------------------------------------------------


async def rescue_lost_jobs(conn: Executor) -> list[tuple[uuid.UUID, str]]:
    rows = await sql.RESCUE_LOST_JOBS.fetch(conn)
    return [(row["id"], str(row["status"])) for row in rows]


async def expire_queued_jobs(conn: Executor) -> list[uuid.UUID]:
    """Fail queued jobs past their queue deadline; their ids."""
    return [row["id"] for row in await sql.EXPIRE_QUEUED_JOBS.fetch(conn)]


async def next_run_at(conn: Executor, pool: str) -> datetime | None:
    return await sql.NEXT_RUN_AT.fetchval(conn, pool=pool)


async def delete_old_jobs(conn: Executor, days: float, batch: int = 10_000) -> int:
    """Retention: finished jobs older than `days`; never queued or running ones."""
    deleted = 0
    while True:
        count = len(await sql.DELETE_OLD_JOBS.fetch(conn, days=days, batch=batch))
        deleted += count
        if count < batch:
            return deleted


# ---- lists and figures -------------------------------------------------------------------------------


async def list_jobs(conn: Executor, **filters: Any) -> list[Job]:
    return [Job.from_row(row) for row in await sql.LIST_JOBS.fetch(conn, **filters)]


async def job_stats(conn: Executor, *, user_id: str | None, since: datetime | None) -> list[asyncpg.Record]:
    return await sql.JOB_STATS.fetch(conn, user_id=user_id, since=since)
