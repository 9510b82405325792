"""The GPU lock as people see it: who holds each slot of the pool, doing what, since when; the seeds'
"in use" message; an admin holding a slot by hand for maintenance. The slots are leases (`service.py`)
with the keys `gpu/0 … gpu/N-1` on the default host and `gpu/<host>/<i>` on the others (a fleet)."""

from __future__ import annotations

from dataclasses import dataclass

from app.db import Executor
from app.errors import Conflict
from app.services.accounts.users import User
from app.services.fleet import hosts as fleet_hosts
from app.services.leases import service as leases
from app.services.leases.service import Holder, humanize_ago
from app.services.queue import store

GPU_POOL = "gpu"  # the pool every job runs in; its slots are the leases `gpu/0 … gpu/N-1`
MAINTENANCE_OPERATION = "Maintenance"


def slot_keys(pool: str, slots: int) -> list[str]:
    """The lease keys of the default host's GPU slots in a pool: `gpu/0 … gpu/N-1` (one rule, the fleet's)."""
    return fleet_hosts.slot_keys(fleet_hosts.DEFAULT_HOST, slots, pool)


def busy_message(holder: Holder) -> str:
    """The message the seeds show when someone tries to start AI work while the GPU is busy (with the
    GPU host, on a fleet)."""
    host = fleet_hosts.host_of_slot(holder.key)
    return (
        "AI resources are currently in use.\n"
        + (f"Host: {host}\n" if host != fleet_hosts.DEFAULT_HOST else "")
        + f"Operation: {holder.operation or 'AI work'}\n"
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


async def fleet_slots(conn: Executor, pool: str, capacity: int) -> tuple[list[str], list[str], int]:
    """Every GPU slot's lease key (holders on a host that went down or drains still count), the keys
    of the hosts that take work, and how many slots those have. `capacity` is the one-host fallback
    before the hosts are seeded."""
    found = await fleet_hosts.all_hosts(conn)
    if not found:
        keys = slot_keys(pool, capacity)
        return keys, keys, capacity
    usable = [host for host in found if host.takes_work]
    return (
        [key for host in found for key in host.slot_keys(pool)],
        [key for host in usable for key in host.slot_keys(pool)],
        sum(host.slots for host in usable),
    )


async def gpu_lock(conn: Executor, pool: str, capacity: int) -> GpuLock:
    """Who holds each GPU slot of the whole fleet; `capacity`: the slots of the hosts that take work."""
    keys, _, capacity = await fleet_slots(conn, pool, capacity)
    holders = await leases.active(conn, keys=keys)
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
    _, usable, _ = await fleet_slots(conn, pool, capacity)
    key = await leases.try_acquire(conn, request, usable)
    if key is None:
        lock = await gpu_lock(conn, pool, capacity)
        message = busy_message(lock.holders[0]) if lock.holders else "Every GPU slot is taken; try again."
        raise Conflict(message, {"holders": [h.as_dict() for h in lock.holders]})
    holder = await leases.get(conn, key)
    assert holder is not None  # taken in this transaction
    return holder
