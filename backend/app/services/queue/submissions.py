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

from app.config import Settings
from app.db import Executor
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from app.models.job import TERMINAL_STATUSES, JobStatus
from app.schemas.jobs import SubmitJob
from app.services.accounts.users import User
from app.services.fleet.prober import model_key
from app.services.job_types import JOB_TYPES
from app.services.leases import gpu
from app.services.leases import service as leases
from app.services.leases.gpu import GPU_POOL
from app.services.queue import store
from app.services.queue.errors import PermanentError
from app.services.queue.job_type import JobType
from app.services.usage import service as usage

T = TypeVar("T")
DEFAULT_PRIORITY = 0
MIN_SECONDS_LEFT = 3.0  # what a running job is assumed to still need, however long it already ran


@dataclass(frozen=True)
class Submitted:
    """A queued job and, when asked for (`with_place`), where it stands: its position, ETA, the GPU lock."""

    job: store.Job
    created: bool
    position: int | None = None
    eta_seconds: float | None = None
    lock: gpu.GpuLock | None = None


class GpuBusy(Conflict):
    """`if_busy=reject` and every GPU slot is held: the seeds' message, naming the holder."""

    code = "gpu_busy"


async def submit(
    conn: Executor,
    user: User,
    body: SubmitJob,
    settings: Settings,
    idempotency_key: str | None = None,
    *,
    reject_if_busy: bool = False,
    with_place: bool = True,
) -> Submitted:
    """Validate and queue a job (one statement, the quota checked in it), then, `with_place`, where it
    stands (one more: a drop-in front, whose caller waits for the answer, does without)."""
    new, request = _new_job(user, body, settings, idempotency_key)
    await JOB_TYPES[new.job_type].authorize(conn, user, request)
    if reject_if_busy:
        lock = await gpu.gpu_lock(conn, GPU_POOL, settings.max_concurrent_jobs)
        if lock.locked:
            first = lock.holders[0]
            holders = [holder.as_dict() for holder in lock.holders]
            raise GpuBusy(gpu.busy_message(first), {"holder": first.as_dict(), "holders": holders})
    await usage.check_daily_limit(conn, user, settings)
    try:
        enqueued = await store.enqueue(conn, new, quota=settings.max_queued_per_user)
    except store.QuotaExceeded as error:
        raise TooManyRequests(
            f"You already have {error.limit} jobs queued (MAX_QUEUED_PER_USER={error.limit}). "
            "Wait for some to finish, or cancel some.",
            {"queued": error.limit, "limit": error.limit},
            retry_after=max(5, int(await store.mean_run_seconds(conn, GPU_POOL) or 30)),
        ) from None
    if not enqueued.created:
        _check_same_request(enqueued.job, new)
    if not with_place:
        return Submitted(job=enqueued.job, created=enqueued.created)
    place = await store.place(conn, enqueued.job.id, with_queue_length=True)
    assert place is not None
    return Submitted(
        job=enqueued.job,
        created=enqueued.created,
        # Already started (a slot was free and a processor took it at once): it was first in the queue.
        position=place.position if place.job.status == JobStatus.QUEUED else 0,
        eta_seconds=eta_seconds(place),
        lock=gpu.GpuLock(
            capacity=place.slots,
            holders=[leases.holder_from(holder) for holder in place.holders],
            queue_length=place.queue_length or 0,
        ),
    )


def _new_job(user: User, body: SubmitJob, settings: Settings, idempotency_key: str | None) -> tuple[store.NewJob, Any]:
    """The job to queue, once the body is known good (a registered type, a request it accepts, a
    priority this user may set, lease keys that are not GPU slots), and its parsed request."""
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
    if body.priority > DEFAULT_PRIORITY and not user.is_admin:
        raise Forbidden(
            f"priority {body.priority} is above the default ({DEFAULT_PRIORITY}): only admins may raise a job's "
            "priority. Leave it out, or use a lower value.",
            {"field": "priority"},
        )
    for key in body.locks:
        leases.check_resource_key(key)
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
        locks=tuple(dict.fromkeys(body.locks)),  # each key once
        requires=tuple(dict.fromkeys(body.requires)),
        **_model_of(kind, request, settings),
    )
    return new, request


def _model_of(kind: JobType[Any], request: Any, settings: Settings) -> dict[str, str | None]:
    """The model a job runs, for placement: the one its request names, in the hosts' form; for a request
    that names none, the enqueue takes the default model (the user's, everyone's, else DEFAULT_MODEL)."""
    if not kind.runs_model:
        return {"model": None, "fallback_model": None}
    named = getattr(request, "model", None)
    return {"model": model_key(named) if named else None, "fallback_model": settings.default_model}


def _check_same_request(existing: store.Job, new: store.NewJob) -> None:
    """An Idempotency-Key names one request: the same key with another body is a mistake, not a replay."""
    if (existing.job_type, existing.request_data) != (new.job_type, new.request_data):
        raise InvalidInput(
            f"Idempotency-Key {new.idempotency_key!r} was already used for job {existing.id} with a different "
            "request: send the same request to get that job back, or use a new key for a new job.",
            {"field": "Idempotency-Key", "job_id": str(existing.id)},
        )


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


def eta_seconds(place: store.Place) -> float | None:
    """Seconds until a queued job starts: what is left of the running jobs (each one's expected run time
    from recent history minus how long it has run, never below a few seconds while it runs) plus the
    expected run time of each job ahead of it, shared over the slots. None while any of those has no
    history yet ("no estimate yet" beats a made-up number)."""
    if place.position is None:
        return None
    left: list[float] = []
    for holder in place.holders:
        if holder["job_type"] is None:  # held by hand (maintenance): until its lease ends
            left.append(max(MIN_SECONDS_LEFT, float(holder["expires_in"])))
            continue
        mean = place.mean_seconds.get(holder["job_type"])
        if mean is None:
            return None
        left.append(max(MIN_SECONDS_LEFT, mean - float(holder["elapsed_seconds"])))
    ahead = _expected_ahead(place)
    if ahead is None:
        return None
    slots = place.slots  # the fleet's: every host that takes work
    free_now = slots - len(left)
    if free_now > place.position:
        return 0.0
    total = (sum(left) + ahead) / max(1, slots)
    return round(max(total, min(left, default=0.0)), 1)


def _expected_ahead(place: store.Place) -> float | None:
    """Expected run time of the jobs ahead: their count times the mean of their job types' run times."""
    if not place.position:
        return 0.0
    counted = sum(place.ahead.values())
    kinds = place.ahead if counted else {place.job.job_type: 1}
    means = [place.mean_seconds.get(kind) for kind in kinds]
    if any(mean is None for mean in means):
        return None
    per_job = sum(n * mean for n, mean in zip(kinds.values(), means, strict=True)) / sum(kinds.values())  # type: ignore[operator]
    return place.position * per_job


async def get_owned(conn: Executor, user: User, job_id: uuid.UUID) -> store.Job:
    """The job, if this user may see it. Another user's job is 'not found', so ids leak nothing."""
    job = await store.get_job(conn, job_id)
    if job is None or (job.user_id != user.id and not user.is_admin):
        raise NotFound(f"No job {job_id}.", {"job_id": str(job_id)})
    return job


async def get_owned_place(conn: Executor, user: User, job_id: uuid.UUID, slots: int) -> store.Place:
    """The job with where it stands (one statement), if this user may see it."""
    place = await store.place(conn, job_id)
    if place is None or (place.job.user_id != user.id and not user.is_admin):
        raise NotFound(f"No job {job_id}.", {"job_id": str(job_id)})
    return place


async def waiting_for(conn: Executor, job: store.Job) -> list[str]:
    """For a queued job that names extra lease keys: which of them someone else holds now."""
    if job.status != JobStatus.QUEUED or not job.locks:
        return []
    return [
        f"{holder.key} (held by {holder.username or holder.holder} until {holder.expires_at:%H:%M:%S %Z})"
        for holder in await leases.active(conn, keys=list(job.locks))
    ]


async def cancel(conn: Executor, user: User, job_id: uuid.UUID) -> str:
    job = await get_owned(conn, user, job_id)
    status = await store.request_cancel(conn, job.id, by=user.username)
    if status is None:
        raise Conflict(f"Job {job_id} already ended ({job.status}); nothing to cancel.", {"status": job.status})
    return status


async def retry(conn: Executor, user: User, job_id: uuid.UUID, settings: Settings) -> store.Job:
    """Queue a failed or cancelled job again, with a fresh retry budget, within the user's quota."""
    job = await get_owned(conn, user, job_id)
    try:
        retried = await store.retry_ended(conn, job.id, by=user.username, quota=settings.max_queued_per_user)
    except store.QuotaExceeded as error:
        raise TooManyRequests(
            f"You already have {error.limit} jobs queued (MAX_QUEUED_PER_USER={error.limit}); retry this one "
            "when some have finished, or cancel some.",
            {"queued": error.limit, "limit": error.limit},
            retry_after=max(5, int(await store.mean_run_seconds(conn, GPU_POOL) or 30)),
        ) from None
    if retried is None:
        raise Conflict(
            f"Job {job_id} is {job.status}: only failed or cancelled jobs can be retried.", {"status": job.status}
        )
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
    conn: Executor,
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
    found = await store.list_jobs(
        conn,
        user_id=None if (all_users and user.is_admin) else user.id,
        status=statuses or None,
        job_type=job_type,
        since=since,
        before_created=before_created,
        before_id=before_id,
        limit=limit + 1,
    )
    page = found[:limit]
    return page, encode_cursor(page[-1]) if len(found) > limit else None


async def stats(
    conn: Executor, user: User, *, since: datetime | None, all_users: bool, pool: str = GPU_POOL
) -> dict[str, Any]:
    rows = await store.job_stats(conn, user_id=None if (all_users and user.is_admin) else user.id, since=since)
    by_type: dict[str, Any] = {}
    total: dict[str, Any] = {}
    for row in rows:
        figures = _figures(row)
        if row["job_type"] is None:
            total = figures
        else:
            by_type[row["job_type"]] = figures
    return {**(total or _figures(None)), "queue_length": await store.queue_length(conn, pool), "by_type": by_type}


def _figures(row: Any) -> dict[str, Any]:
    def seconds(name: str) -> float | None:
        value = row[name] if row is not None else None
        return round(float(value), 3) if value is not None else None

    counts = {
        name: int(row[name] or 0) if row is not None else 0
        for name in ("total", "queued", "running", "completed", "failed", "cancelled", "retries")
    }
    ended = counts["completed"] + counts["failed"]
    return {
        **counts,
        "success_rate": round(counts["completed"] / ended, 4) if ended else None,
        "run_seconds": {"mean": seconds("run_mean"), "p50": seconds("run_p50"), "p95": seconds("run_p95")},
        "wait_seconds": {"mean": seconds("wait_mean"), "p50": seconds("wait_p50"), "p95": seconds("wait_p95")},
    }


async def wait_for_end(db: Executor, job_id: uuid.UUID, within: float) -> store.Job | None:
    """For `?wait=`: the job once it has ended, or None if it is still going after `within` seconds.
    Polls the row (cheap, indexed by primary key) at a gentle, growing interval."""
    deadline = time.monotonic() + within
    interval = 0.02
    while True:
        job = await store.get_job(db, job_id)
        if job is None or job.status in TERMINAL_STATUSES:
            return job
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        await asyncio.sleep(min(interval, remaining))
        interval = min(interval * 1.5, 0.5)
