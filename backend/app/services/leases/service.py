"""Leases on anything: take, give back, renew, force-release, list, history. GPU slots and other keys
(`folder:/srv/repo`, `model-load:tinyllama`) are rows of one table, so a key has at most one holder,
enforced by its primary key. The GPU's view of these rows is `gpu.py`."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from app.db import Executor
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services.accounts.users import User
from app.services.leases import sql
from app.services.queue.progress import public_progress


@dataclass(frozen=True)
class LeaseRequest:
    """Who asks for a lease, for what, and for how long: what every holder row records."""

    holder: str  # a job id, an owner name, `maintenance:<admin>`
    user_id: str | None
    username: str | None
    ttl: float
    operation: str | None = None
    details: str | None = None
    task_ref: str | None = None  # `job:<id>` when a job holds it
    attempt: int | None = None  # the job's fencing token, when a job holds it
    job_id: uuid.UUID | None = None  # the job holding it
    worker_id: str | None = None  # the processor that renews it (with the job's other leases)
    grace: float = 0.0  # held this long past its expiry too (a job's runner may still be stopping)

    def params(self, keys: list[str]) -> dict[str, Any]:
        return {"keys": keys, **asdict(self)}


@dataclass(frozen=True)
class Holder:
    key: str
    operation: str | None
    details: str | None
    holder: str
    job_id: str | None
    user_id: str | None
    username: str | None
    task_ref: str | None
    started_at: datetime
    expires_at: datetime
    progress: dict[str, Any]

    @property
    def elapsed_seconds(self) -> float:
        return max(0.0, (datetime.now(UTC) - self.started_at).total_seconds())

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "operation": self.operation,
            "details": self.details,
            "job_id": self.job_id,
            "user_id": self.user_id,
            "username": self.username,
            "task_ref": self.task_ref,
            "started_at": self.started_at,
            "expires_at": self.expires_at,
            "elapsed_seconds": round(self.elapsed_seconds, 1),
            "progress": public_progress(self.progress),  # how far, never what: the lock view is everyone's
        }


def humanize_ago(seconds: float) -> str:
    if seconds < 60:
        return "just now" if seconds < 5 else f"{int(seconds)} seconds ago"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def holder_from(view: dict[str, Any]) -> Holder:
    """A holder as the queue's JOB_VIEW reports it (JSON: times as ISO strings)."""
    return Holder(
        key=view["key"],
        operation=view["operation"],
        details=view["details"],
        holder=view["job_id"] or view["username"] or view["user_id"] or "",
        job_id=view["job_id"],
        user_id=view["user_id"],
        username=view["username"],
        task_ref=view["task_ref"],
        started_at=datetime.fromisoformat(view["started_at"]),
        expires_at=datetime.fromisoformat(view["expires_at"]),
        progress=view["progress"] or {},
    )


def _holder(row: Any) -> Holder:
    return Holder(
        key=row["key"],
        operation=row["operation"],
        details=row["details"],
        holder=row["holder"],
        job_id=str(row["job_id"]) if row["job_id"] else None,
        user_id=row["user_id"],
        username=row["username"],
        task_ref=row["task_ref"],
        started_at=row["acquired_at"],
        expires_at=row["expires_at"],
        progress=row["job_progress"] or {},
    )


async def active(conn: Executor, *, keys: list[str] | None = None, prefix: str | None = None) -> list[Holder]:
    return [_holder(row) for row in await sql.ACTIVE_LEASES.fetch(conn, keys=keys, prefix=prefix)]


async def get(conn: Executor, key: str) -> Holder | None:
    found = await active(conn, keys=[key])
    return found[0] if found else None


async def try_acquire(conn: Executor, request: LeaseRequest, keys: list[str]) -> str | None:
    """Take the first free key of `keys` (a free key has no row, or an expired one); the key taken,
    or None when every one is held. Writes nothing when it takes nothing."""
    row = await sql.ACQUIRE_LEASE.fetchrow(conn, **request.params(keys))
    return str(row["key"]) if row is not None else None


def check_resource_key(key: str, pools: tuple[str, ...] = ("gpu",)) -> str:
    if not key or len(key) > 300 or key != key.strip():
        raise InvalidInput("Invalid lease key: use 1-300 characters without surrounding spaces.", {"field": "key"})
    if any(key.startswith(f"{pool}/") for pool in pools):
        raise InvalidInput(
            f"Lease key {key!r} is a GPU slot: use the GPU lock endpoints (/api/ai-agent/lock/…) for those.",
            {"field": "key"},
        )
    return key


async def acquire(
    conn: Executor,
    user: User,
    key: str,
    *,
    ttl: float,
    owner: str | None = None,
    task_id: str | None = None,
    details: str | None = None,
    operation: str | None = None,
) -> Holder:
    """Take `key` for `ttl` seconds, or raise Conflict naming who holds it."""
    request = LeaseRequest(
        holder=owner or user.id,
        user_id=user.id,
        username=user.username,
        ttl=ttl,
        operation=operation,
        details=details,
        task_ref=task_id,
    )
    if await try_acquire(conn, request, [key]) is None:
        raise held_conflict(await _live(conn, key))
    return await _live(conn, key)


def held_conflict(holder: Holder) -> Conflict:
    return Conflict(
        f"{holder.key} is held by {holder.username or holder.holder} since "
        f"{holder.started_at:%Y-%m-%d %H:%M:%S %Z} ({humanize_ago(holder.elapsed_seconds)}), until "
        f"{holder.expires_at:%H:%M:%S %Z} unless renewed.",
        {"holder": holder.as_dict()},
    )


async def _live(conn: Executor, key: str) -> Holder:
    found = await get(conn, key)
    if found is None:
        raise NotFound(f"Nobody holds {key!r}.", {"key": key})
    return found


async def release(conn: Executor, user: User, key: str, pool: str = "gpu") -> None:
    """The holder gives the key back. Someone else's lease is 403; a free key is 404."""
    params = {"key": key, "user_id": user.id, "username": user.username, "pool": pool}
    if await sql.RELEASE_LEASE.fetchrow(conn, **params) is not None:
        return
    holder = await get(conn, key)
    if holder is None:
        raise NotFound(f"Nobody holds {key!r} (it may have expired).", {"key": key})
    raise Forbidden(
        f"{key} is held by {holder.username or holder.holder}; only they can release it (an admin can force-release).",
        {"holder": holder.as_dict()},
    )


async def renew(conn: Executor, user: User, key: str, ttl: float) -> Holder:
    """Extend the caller's lease to `ttl` seconds from now."""
    row = await sql.RENEW_LEASE.fetchrow(conn, key=key, user_id=user.id, ttl=ttl)
    if row is None:
        holder = await get(conn, key)
        if holder is None:
            raise NotFound(f"Nobody holds {key!r} (it expired?); acquire it again.", {"key": key})
        raise Forbidden(f"{key} is held by {holder.username or holder.holder}; only they can renew it.")
    return await _live(conn, key)


async def force_release(conn: Executor, admin: User, key: str, pool: str = "gpu") -> dict[str, Any]:
    """An admin frees a key at once; a job that held it is cancelled and its worker told to stop."""
    params = {"key": key, "username": admin.username, "pool": pool}
    row = await sql.FORCE_RELEASE_LEASE.fetchrow(conn, **params)
    if row is None:
        raise NotFound(f"Nobody holds {key!r}.", {"key": key})
    return {
        "key": row["key"],
        "released_from": row["username"] or row["holder"],
        "operation": row["operation"],
        "cancelled_job": str(row["cancelled_job"]) if row["cancelled_job"] else None,
    }


async def history(
    conn: Executor, *, prefix: str | None = None, key: str | None = None, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    rows = await sql.LEASE_HISTORY.fetch(conn, prefix=prefix, key=key, before_id=before_id, limit=limit)
    return [dict(row) for row in rows]


async def sweep_expired(conn: Executor) -> int:
    return len(await sql.SWEEP_EXPIRED_LEASES.fetch(conn))
