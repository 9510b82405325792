"""The queue's SQL against a real PostgreSQL: enqueue, claim order, slot cap, fencing, rescue, cancel."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.queue import store

HOLDER = store.SlotHolder(operation="AI Text Generation", details=None)


def describe(_job_type: str, _request: dict, _details: str | None) -> store.SlotHolder:
    return HOLDER


def new_job(user: str = "alice", **fields: object) -> store.NewJob:
    values: dict = {"user_id": user, "username": user, "job_type": "generate", "request_data": {"prompt": "x"}}
    values.update(fields)
    return store.NewJob(**values)


async def enqueue(engine: AsyncEngine, job: store.NewJob) -> store.Job:
    async with engine.begin() as conn:
        return (await store.enqueue(conn, job)).job


async def claim(engine: AsyncEngine, capacity: int = 1, worker: str = "w1", ttl: float = 30) -> store.Job | None:
    async with engine.begin() as conn:
        return await store.claim(conn, pool="gpu", capacity=capacity, worker_id=worker, ttl=ttl, describe=describe)


async def finish(engine: AsyncEngine, job: store.Job) -> bool:
    async with engine.begin() as conn:
        return await store.complete(conn, job, "w1", {"ok": True}, {})


async def expire_leases(engine: AsyncEngine) -> None:
    """Stand-in for time passing with no heartbeat (a crashed worker), without sleeping."""
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE leases SET expires_at = now() - interval '1 second'"))


async def test_enqueue_returns_a_queued_job_with_its_request(engine: AsyncEngine) -> None:
    job = await enqueue(engine, new_job(request_data={"model": "tinyllama", "prompt": "hi"}))
    assert job.status == "queued"
    assert job.request_data == {"model": "tinyllama", "prompt": "hi"}
    assert job.attempt == 0


async def test_same_idempotency_key_returns_the_same_job(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        first = await store.enqueue(conn, new_job(idempotency_key="k1"))
    async with engine.begin() as conn:
        second = await store.enqueue(conn, new_job(idempotency_key="k1", request_data={"other": 1}))
    async with engine.begin() as conn:
        other_user = await store.enqueue(conn, new_job(user="bob", idempotency_key="k1"))
    assert first.created and not second.created
    assert second.job.id == first.job.id and second.job.request_data == {"prompt": "x"}
    assert other_user.created and other_user.job.id != first.job.id


async def test_concurrent_submissions_with_one_key_make_one_job(engine: AsyncEngine) -> None:
    async def submit() -> uuid.UUID:
        async with engine.begin() as conn:
            return (await store.enqueue(conn, new_job(idempotency_key="same"))).job.id

    ids = await asyncio.gather(*(submit() for _ in range(8)))
    assert len(set(ids)) == 1


async def test_claim_marks_running_and_takes_the_slot(engine: AsyncEngine) -> None:
    job = await enqueue(engine, new_job(details="Case: ACME Breach (ID: 5)"))
    claimed = await claim(engine)
    assert claimed is not None and claimed.id == job.id
    assert (claimed.status, claimed.attempt, claimed.worker_id) == ("running", 1, "w1")
    async with engine.connect() as conn:
        lease = (await conn.execute(text("SELECT key, holder, attempt, operation FROM leases"))).one()
    assert tuple(lease) == ("gpu/0", str(job.id), 1, "AI Text Generation")


async def test_no_free_slot_means_no_claim(engine: AsyncEngine) -> None:
    await enqueue(engine, new_job())
    await enqueue(engine, new_job())
    assert await claim(engine) is not None
    assert await claim(engine) is None
    async with engine.connect() as conn:
        queued = (await conn.execute(text("SELECT count(*) FROM ai_jobs WHERE status = 'queued'"))).scalar()
    assert queued == 1


async def test_finishing_frees_the_slot_for_the_next_job(engine: AsyncEngine) -> None:
    await enqueue(engine, new_job())
    await enqueue(engine, new_job())
    first = await claim(engine)
    assert first is not None and await finish(engine, first)
    second = await claim(engine)
    assert second is not None and second.id != first.id
    async with engine.connect() as conn:
        history = (await conn.execute(text("SELECT holder, end_reason FROM lease_history ORDER BY id"))).all()
    assert [tuple(row) for row in history] == [(str(first.id), "released"), (str(second.id), None)]


async def test_many_concurrent_claimers_never_exceed_capacity(engine: AsyncEngine) -> None:
    for _ in range(30):
        await enqueue(engine, new_job())
    for capacity in (1, 3):
        claims = await asyncio.gather(*(claim(engine, capacity, worker=f"w{n}") for n in range(20)))
        running = [job for job in claims if job is not None]
        assert len(running) == capacity
        for job in running:
            assert await finish(engine, job)


async def test_priority_first_then_the_user_who_waited_longest_then_age(engine: AsyncEngine) -> None:
    a1 = await enqueue(engine, new_job("alice"))
    a2 = await enqueue(engine, new_job("alice"))
    b1 = await enqueue(engine, new_job("bob"))
    urgent = await enqueue(engine, new_job("carol", priority=5))
    order = []
    for _ in range(4):
        job = await claim(engine)
        assert job is not None
        order.append(job.id)
        assert await finish(engine, job)
    # carol's priority wins; alice's first job is oldest; then bob, who has not had the GPU, before alice again.
    assert order == [urgent.id, a1.id, b1.id, a2.id]


async def test_a_retry_waits_for_its_run_at(engine: AsyncEngine) -> None:
    await enqueue(engine, new_job())
    job = await claim(engine)
    assert job is not None
    async with engine.begin() as conn:
        assert await store.schedule_retry(conn, job, "w1", "Ollama answered 503", delay=60)
    assert await claim(engine) is None
    async with engine.connect() as conn:
        assert await store.next_run_at(conn, "gpu") is not None
        retried = await store.get_job(conn, job.id)
    assert retried is not None and (retried.status, retried.retry_count, retried.error_kind) == (
        "queued",
        1,
        "transient",
    )


async def test_the_fence_rejects_a_late_write_from_a_lost_attempt(engine: AsyncEngine) -> None:
    await enqueue(engine, new_job())
    old = await claim(engine, worker="old")
    assert old is not None
    await expire_leases(engine)
    async with engine.begin() as conn:
        assert await store.rescue_lost_jobs(conn) == [(old.id, "queued")]
    new = await claim(engine, worker="new")
    assert new is not None and new.id == old.id and new.attempt == old.attempt + 1
    async with engine.begin() as conn:
        assert not await store.complete(conn, old, "old", {"stale": True}, {})
        assert not await store.update_progress(conn, old, {"text": "stale"})
        still_held, _ = await store.heartbeat(conn, new, ttl=30)
    assert still_held
    assert await finish(engine, new)
    async with engine.connect() as conn:
        done = await store.get_job(conn, old.id)
    assert done is not None and done.status == "completed" and done.result_data == {"ok": True}


async def test_an_expired_lease_cannot_be_renewed(engine: AsyncEngine) -> None:
    await enqueue(engine, new_job())
    job = await claim(engine)
    assert job is not None
    await expire_leases(engine)
    async with engine.begin() as conn:
        held, _ = await store.heartbeat(conn, job, ttl=30)
    assert not held


async def test_rescue_fails_a_lost_job_whose_retries_are_used_up(engine: AsyncEngine) -> None:
    await enqueue(engine, new_job(max_retries=0))
    job = await claim(engine)
    assert job is not None
    await expire_leases(engine)
    async with engine.begin() as conn:
        assert await store.rescue_lost_jobs(conn) == [(job.id, "failed")]
        lost = await store.get_job(conn, job.id)
        leases = (await conn.execute(text("SELECT count(*) FROM leases"))).scalar()
        ends = (await conn.execute(text("SELECT end_reason FROM lease_history"))).scalars().all()
    assert lost is not None and lost.error_kind == "lost" and "stopped renewing" in (lost.error_message or "")
    assert leases == 0 and ends == ["expired"]


async def test_cancel_a_queued_job_at_once_and_a_running_one_through_its_worker(engine: AsyncEngine) -> None:
    running = await enqueue(engine, new_job())
    waiting = await enqueue(engine, new_job())
    assert (await claim(engine)) is not None
    async with engine.begin() as conn:
        assert await store.request_cancel(conn, waiting.id, by="alice") == "cancelled"
        assert await store.request_cancel(conn, running.id, by="alice") == "running"
        assert await store.request_cancel(conn, waiting.id, by="alice") is None
        held, cancel_requested = await store.heartbeat(conn, (await store.get_job(conn, running.id)), ttl=30)
    assert held and cancel_requested


async def test_queue_deadline_fails_a_job_that_could_not_start(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        deadline = (await conn.execute(text("SELECT now() - interval '1 second'"))).scalar()
    job = await enqueue(engine, new_job(queue_deadline=deadline))
    async with engine.begin() as conn:
        assert len(await store.expire_queued_jobs(conn)) == 1
        failed = await store.get_job(conn, job.id)
    assert failed is not None and failed.status == "failed" and failed.error_kind == "queue_timeout"


async def test_every_state_change_is_recorded(engine: AsyncEngine) -> None:
    job = await enqueue(engine, new_job())
    claimed = await claim(engine)
    assert claimed is not None and await finish(engine, claimed)
    async with engine.connect() as conn:
        events = (
            await conn.execute(text("SELECT status FROM job_events WHERE job_id = :id ORDER BY id"), {"id": job.id})
        ).scalars()
        assert list(events) == ["queued", "running", "completed"]
