"""The GPU lock as people see it: who holds each slot of the pool, doing what, since when; the seeds'
"in use" message; an admin holding a slot by hand for maintenance. The slots are leases (`service.py`)
with the keys `gpu/0 … gpu/N-1`."""

from __future__ import annotations

from dataclasses import dataclass

from app.db import Executor
from app.errors import Conflict
from app.services.accounts.users import User
from app.services.leases import service as leases
from app.services.leases.service import Holder, humanize_ago
from app.services.queue import store

GPU_POOL = "gpu"  # the pool every job runs in; its slots are the leases `gpu/0 … gpu/N-1`
MAINTENANCE_OPERATION = "Maintenance"


def slot_keys(pool: str, slots: int) -> list[str]:
    """The lease keys of a pool's GPU slots: `gpu/0 … gpu/N-1`."""
    return [f"{pool}/{n}" for n in range(slots)]


def busy_message(holder: Holder) -> str:
    """The message the seeds show when someone tries to start AI work while the GPU is busy."""
    return (
        "AI resources are currently in use.\n"
        f"Operation: {holder.operation or 'AI work'}\n"
        f"Details: {holder.details or '-'}\n"
        f"Started by: {holder.username or holder.user_id or holder.holder}\n"
        f"Started: {humanize_ago(holder.elapsed_seconds)}\n\n"
        "Please wait for the current operation to complete."
    )


@dataclass(frozen=True)
class GpuLock:
    capacity: int
    holders: list[Holder]
    queue_length: int

    @property
    def locked(self) -> bool:
        """Every slot is held: new work has to wait."""
        return len(self.holders) >= self.capacity


async def gpu_lock(conn: Executor, pool: str, capacity: int) -> GpuLock:
    holders = await leases.active(conn, keys=slot_keys(pool, capacity))
    return GpuLock(capacity=capacity, holders=holders, queue_length=await store.queue_length(conn, pool))


async def take_slot(conn: Executor, admin: User, pool: str, capacity: int, ttl: float, details: str | None) -> Holder:
    """An admin holds a free GPU slot by hand (driver update, benchmark…); jobs wait until released."""
    request = leases.LeaseRequest(
        holder=f"maintenance:{admin.id}",
        user_id=admin.id,
        username=admin.username,
        ttl=ttl,
        operation=MAINTENANCE_OPERATION,
        details=details,
    )
    key = await leases.try_acquire(conn, request, slot_keys(pool, capacity))
    if key is None:
        lock = await gpu_lock(conn, pool, capacity)
        message = busy_message(lock.holders[0]) if lock.holders else "Every GPU slot is taken; try again."
        raise Conflict(message, {"holders": [h.as_dict() for h in lock.holders]})
    holder = await leases.get(conn, key)
    assert holder is not None  # taken in this transaction
    return holder
