"""Leases on anything, against a real PostgreSQL: one holder per key, the owner releases, an expired lease
is free (a job's only after its grace), history says how each ended."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services.accounts.users import User
from app.services.leases import gpu
from app.services.leases import service as leases

ALICE = User(id="alice", username="alice")
BOB = User(id="bob", username="bob")
ADMIN = User(id="admin", username="admin", is_admin=True)


async def test_one_holder_per_key_and_only_the_owner_releases(db: asyncpg.Pool) -> None:
    held = await leases.acquire(db, ALICE, "folder:/srv/repo", ttl=60, details="deploy")
    assert held.username == "alice" and held.details == "deploy"
    with pytest.raises(Conflict, match="held by alice"):
        await leases.acquire(db, BOB, "folder:/srv/repo", ttl=60)
    with pytest.raises(Forbidden):
        await leases.release(db, BOB, "folder:/srv/repo")
    await leases.release(db, ALICE, "folder:/srv/repo")
    with pytest.raises(NotFound):
        await leases.release(db, ALICE, "folder:/srv/repo")
    ends = await leases.history(db, key="folder:/srv/repo", before_id=None, limit=10)
    assert [entry["end_reason"] for entry in ends] == ["released"]


async def test_an_expired_lease_is_free_but_a_jobs_only_after_its_grace(db: asyncpg.Pool) -> None:
    await leases.acquire(db, ALICE, "dataset:x", ttl=60)
    job_lease = leases.LeaseRequest(
        holder="job", user_id="alice", username="alice", ttl=60, job_id=uuid.uuid4(), attempt=1, grace=30
    )
    assert await leases.try_acquire(db, job_lease, ["model-load:tinyllama"]) == "model-load:tinyllama"
    await db.execute("UPDATE leases SET expires_at = now() - interval '5 seconds'")
    assert (await leases.acquire(db, BOB, "dataset:x", ttl=60)).username == "bob", "expired: free"
    assert (
        await leases.try_acquire(db, leases.LeaseRequest("other", "bob", "bob", 60), ["model-load:tinyllama"]) is None
    )
    assert [holder.key for holder in await leases.active(db)] == ["model-load:tinyllama", "dataset:x"]


async def test_admins_force_release_and_the_history_says_who(db: asyncpg.Pool) -> None:
    await leases.acquire(db, ALICE, "deploy:prod", ttl=60)
    released = await leases.force_release(db, ADMIN, "deploy:prod")
    assert released["released_from"] == "alice" and released["cancelled_job"] is None
    [entry] = await leases.history(db, key="deploy:prod", before_id=None, limit=10)
    assert (entry["end_reason"], entry["ended_by"]) == ("force_released", "admin")


def test_gpu_slots_are_not_taken_through_the_general_lease_endpoints() -> None:
    with pytest.raises(InvalidInput, match="GPU slot"):
        leases.check_resource_key("gpu/0")
    assert leases.check_resource_key("folder:/srv/repo") == "folder:/srv/repo"


async def test_a_maintenance_hold_takes_a_free_slot_and_the_busy_message_names_it(db: asyncpg.Pool) -> None:
    holder = await gpu.take_slot(db, ADMIN, "gpu", 1, ttl=600, details="driver update")
    assert holder.key == "gpu/0" and holder.operation == gpu.MAINTENANCE_OPERATION
    with pytest.raises(Conflict) as refused:
        await gpu.take_slot(db, ALICE, "gpu", 1, ttl=600, details=None)
    assert "Operation: Maintenance" in refused.value.message and "Started by: admin" in refused.value.message
    lock = await gpu.gpu_lock(db, "gpu", 1)
    assert lock.locked and lock.queue_length == 0


async def test_on_a_fleet_the_lock_counts_every_hosts_slots_and_the_busy_message_names_the_host(
    db: asyncpg.Pool,
) -> None:
    from app.services.fleet import hosts as fleet_hosts

    await fleet_hosts.add(db, "box-b", "http://box-b:11434", 2, None, [])
    lock = await gpu.gpu_lock(db, "gpu", 1)
    assert lock.capacity == 3 and not lock.locked  # default (1 slot) + box-b (2)
    taken = [await gpu.take_slot(db, ADMIN, "gpu", 1, ttl=600, details="driver update") for _ in range(3)]
    assert sorted(holder.key for holder in taken) == ["gpu/0", "gpu/box-b/0", "gpu/box-b/1"]
    with pytest.raises(Conflict, match="AI resources are currently in use"):
        await gpu.take_slot(db, ALICE, "gpu", 1, ttl=600, details=None)
    assert (await gpu.gpu_lock(db, "gpu", 1)).locked
    assert "Host: box-b" in gpu.busy_message(next(h for h in taken if h.key.startswith("gpu/box-b")))
    assert "Host:" not in gpu.busy_message(next(h for h in taken if h.key == "gpu/0"))
