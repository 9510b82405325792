"""Leases seen by people: the GPU lock (who holds each slot, doing what, since when), maintenance
holds, and leases on other resources (`/api/locks`). GPU slots and other keys are rows of one table,
so a key has at most one holder, enforced by its primary key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services.accounts.users import User
from app.services.queue import sql, store

MAINTENANCE_OPERATION = "Maintenance"


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

    def busy_message(self) -> str:
        """The message the seeds show when someone tries to start AI work while the GPU is busy."""
        return (
            "AI resources are currently in use.\n"
            f"Operation: {self.operation or 'AI work'}\n"
            f"Details: {self.details or '-'}\n"
            f"Started by: {self.username or self.user_id or self.holder}\n"
            f"Started: {humanize_ago(self.elapsed_seconds)}\n\n"
            "Please wait for the current operation to complete."
        )

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
            "progress": self.progress,
        }


@dataclass(frozen=True)
class GpuLock:
    capacity: int
    holders: list[Holder]
    queue_length: int

    @property
    def locked(self) -> bool:
        """Every slot is held: new work has to wait."""
        return len(self.holders) >= self.capacity


def humanize_ago(seconds: float) -> str:
    if seconds < 60:
        return "just now" if seconds < 5 else f"{int(seconds)} seconds ago"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def _holder(row: Any) -> Holder:
    task_ref = row.task_ref
    return Holder(
        key=row.key,
        operation=row.operation,
        details=row.details,
        holder=row.holder,
        job_id=task_ref.removeprefix("job:") if task_ref and task_ref.startswith("job:") else None,
        user_id=row.user_id,
        username=row.username,
        task_ref=task_ref,
        started_at=row.acquired_at,
        expires_at=row.expires_at,
        progress=row.job_progress or {},
    )


async def active(conn: AsyncConnection, *, keys: list[str] | None = None, prefix: str | None = None) -> list[Holder]:
    rows = await conn.execute(text(sql.ACTIVE_LEASES), {"keys": keys, "prefix": prefix})
    return [_holder(row) for row in rows]


async def gpu_lock(conn: AsyncConnection, pool: str, capacity: int) -> GpuLock:
    holders = await active(conn, keys=store.slot_keys(pool, capacity))
    length = (await conn.execute(text(sql.QUEUE_LENGTH), {"pool": pool})).scalar_one()
    return GpuLock(capacity=capacity, holders=holders, queue_length=int(length))


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
    conn: AsyncConnection,
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
    params = {
        "keys": [key],
        "holder": owner or user.id,
        "attempt": None,
        "operation": operation,
        "details": details,
        "user_id": user.id,
        "username": user.username,
        "task_ref": task_id,
        "ttl": ttl,
    }
    if (await conn.execute(text(sql.ACQUIRE_LEASE), params)).first() is None:
        raise held_conflict(await _live(conn, key))
    return await _live(conn, key)


def held_conflict(holder: Holder) -> Conflict:
    return Conflict(
        f"{holder.key} is held by {holder.username or holder.holder} since "
        f"{holder.started_at:%Y-%m-%d %H:%M:%S %Z} ({humanize_ago(holder.elapsed_seconds)}), until "
        f"{holder.expires_at:%H:%M:%S %Z} unless renewed.",
        {"holder": holder.as_dict()},
    )


async def _live(conn: AsyncConnection, key: str) -> Holder:
    found = await active(conn, keys=[key])
    if not found:
        raise NotFound(f"Nobody holds {key!r}.", {"key": key})
    return found[0]


async def get(conn: AsyncConnection, key: str) -> Holder | None:
    found = await active(conn, keys=[key])
    return found[0] if found else None


async def release(conn: AsyncConnection, user: User, key: str, pool: str = "gpu") -> None:
    """The holder gives the key back. Someone else's lease is 403; a free key is 404."""
    params = {"key": key, "user_id": user.id, "username": user.username, "pool": pool}
    if (await conn.execute(text(sql.RELEASE_LEASE), params)).first() is not None:
        return
    holder = await get(conn, key)
    if holder is None:
        raise NotFound(f"Nobody holds {key!r} (it may have expired).", {"key": key})
    raise Forbidden(
        f"{key} is held by {holder.username or holder.holder}; only they can release it (an admin can force-release).",
        {"holder": holder.as_dict()},
    )


async def renew(conn: AsyncConnection, user: User, key: str, ttl: float) -> Holder:
    row = (await conn.execute(text(sql.RENEW_LEASE), {"key": key, "user_id": user.id, "ttl": ttl})).first()
    if row is None:
        holder = await get(conn, key)
        if holder is None:
            raise NotFound(f"Nobody holds {key!r} (it expired?); acquire it again.", {"key": key})
        raise Forbidden(f"{key} is held by {holder.username or holder.holder}; only they can renew it.")
    return await _live(conn, key)


async def force_release(conn: AsyncConnection, admin: User, key: str, pool: str = "gpu") -> dict[str, Any]:
    """An admin frees a key at once; a job that held it is cancelled and its worker told to stop."""
    params = {"key": key, "username": admin.username, "pool": pool}
    row = (await conn.execute(text(sql.FORCE_RELEASE_LEASE), params)).first()
    if row is None:
        raise NotFound(f"Nobody holds {key!r}.", {"key": key})
    return {
        "key": row.key,
        "released_from": row.username or row.holder,
        "operation": row.operation,
        "cancelled_job": str(row.cancelled_job) if row.cancelled_job else None,
    }


async def history(
    conn: AsyncConnection, *, prefix: str | None = None, key: str | None = None, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(sql.LEASE_HISTORY), {"prefix": prefix, "key": key, "before_id": before_id, "limit": limit}
    )
    return [dict(row._mapping) for row in rows]


async def sweep_expired(conn: AsyncConnection) -> int:
    return len((await conn.execute(text(sql.SWEEP_EXPIRED_LEASES))).all())


async def take_gpu_slot(
    conn: AsyncConnection, admin: User, pool: str, capacity: int, ttl: float, details: str | None
) -> Holder:
    """An admin holds a free GPU slot by hand (driver update, benchmark…); jobs wait until released."""
    params = {
        "keys": store.slot_keys(pool, capacity),
        "holder": f"maintenance:{admin.id}",
        "attempt": None,
        "operation": MAINTENANCE_OPERATION,
        "details": details,
        "user_id": admin.id,
        "username": admin.username,
        "task_ref": None,
        "ttl": ttl,
    }
    row = (await conn.execute(text(sql.ACQUIRE_LEASE), params)).first()
    if row is None:
        lock = await gpu_lock(conn, pool, capacity)
        message = lock.holders[0].busy_message() if lock.holders else "Every GPU slot is taken; try again."
        raise Conflict(message, {"holders": [h.as_dict() for h in lock.holders]})
    return await _live(conn, row.key)
