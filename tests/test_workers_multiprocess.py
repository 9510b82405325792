"""Acceptance: several `aijobs worker` processes on one database never use more GPU slots than
configured, and a worker killed with SIGKILL loses no job and leaves no lease behind."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.queue import store
from app.services.queue.processor import EARLY_START_STOPPED
from tests.support.processes import ServiceProcess, start_worker
from tests.support.simulator import Simulator
from tests.support.waiting import job_reaches, until


async def enqueue_many(db: asyncpg.Pool, count: int, users: int = 4) -> list[store.Job]:
    jobs = []
    for n in range(count):
        user = f"user{n % users}"
        new = store.NewJob(
            user_id=user, username=user, job_type="generate", request_data={"model": "tinyllama", "prompt": f"job {n}"}
        )
        jobs.append((await store.enqueue(db, new, quota=count)).job)
    return jobs


async def count_by_status(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT status, count(*) FROM ai_jobs GROUP BY status"))
        return {row.status: row.count for row in rows}


def start_workers(env: dict[str, str], count: int) -> list[ServiceProcess]:
    return [start_worker(env) for _ in range(count)]


@pytest.mark.parametrize(("slots", "jobs"), [(1, 200), (2, 120)])
async def test_four_workers_drain_the_queue_within_the_slot_cap(
    engine: AsyncEngine, db: asyncpg.Pool, sim: Simulator, service_env: dict[str, str], slots: int, jobs: int
) -> None:
    sim.configure(token_delay=0.004, tokens=6)
    env = {**service_env, "OLLAMA_BASE_URL": sim.base_url, "MAX_CONCURRENT_JOBS": str(slots)}
    workers = await asyncio.to_thread(start_workers, env, 4)
    try:
        await enqueue_many(db, jobs)

        async def all_done() -> bool:
            return (await count_by_status(engine)).get("completed", 0) == jobs

        await until(all_done, within=120, what=f"{jobs} jobs completed")
    finally:
        for worker in workers:
            worker.stop()
    stats = sim.stats()
    generations = [entry for entry in stats["log"] if entry["endpoint"] == "generate" and entry["prompt"]]
    done = [entry["prompt"] for entry in generations if entry["outcome"] == "done"]
    assert len(done) == len(set(done)) == jobs  # each job ran exactly once
    # On one slot, a job whose request went out as the one before ended is stopped if a fairer user's job
    # came in the moment before FINISH picked: each such request is one its worker logged, closed at once.
    stopped = sum(worker.output().count(EARLY_START_STOPPED) for worker in workers)
    assert [entry["outcome"] for entry in generations if entry["outcome"] != "done"] == ["disconnect"] * stopped
    # With two slots the first job loads the model explicitly (an empty prompt), so no one else loads it too.
    assert stats["requests"]["generate"] == jobs + stopped + (1 if slots > 1 else 0)
    assert stats["max_in_flight"] == slots
    # (Which workers ran them is not asserted: a finishing job hands its slot straight to the next one,
    # so a slot stays with the worker holding it while there is work.)
    async with engine.connect() as conn:
        leases = (await conn.execute(text("SELECT count(*) FROM leases"))).scalar()
    assert leases == 0


async def test_kill_9_mid_job_the_job_is_rescued_and_completes_once(
    engine: AsyncEngine, db: asyncpg.Pool, sim: Simulator, service_env: dict[str, str]
) -> None:
    sim.configure(token_delay=0.05, tokens=60)  # about 3 s of generation: time to kill its worker
    env = {**service_env, "OLLAMA_BASE_URL": sim.base_url, "LEASE_TTL_SECONDS": "2"}
    workers = await asyncio.to_thread(start_workers, env, 2)
    try:
        [job] = await enqueue_many(db, 1)
        running = await job_reaches(db, job.id, {"running"})
        pid = int(re.split(r":", running.worker_id or "")[1])
        victim = next(worker for worker in workers if worker.pid == pid)

        async def generating() -> bool:
            return sim.stats()["in_flight"] == 1

        await until(generating, what="the job's request reaching Ollama")
        victim.kill9()

        done = await job_reaches(db, job.id, {"completed", "failed", "cancelled"}, within=30)
        assert done.status == "completed", done.error_message
        assert done.attempt == 2 and done.retry_count == 1
        assert done.worker_id is None
        async with engine.connect() as conn:
            events = (
                await conn.execute(
                    text("SELECT status, worker_id FROM job_events WHERE job_id = :id ORDER BY id"), {"id": job.id}
                )
            ).all()
            leases = (await conn.execute(text("SELECT count(*) FROM leases"))).scalar()
            ends = (await conn.execute(text("SELECT end_reason FROM lease_history ORDER BY id"))).scalars().all()
        statuses = [event.status for event in events]
        assert statuses == ["queued", "running", "queued", "running", "completed"]
        assert events[1].worker_id == running.worker_id and events[3].worker_id != running.worker_id
        assert leases == 0 and ends == ["expired", "released"]
        assert sim.stats()["disconnects"] >= 1  # the dead worker's stream was closed by the kernel

        # The killed worker's attempt can no longer write anything.
        slots = store.Slots(pool="gpu", keys=["gpu/0"], ttl=2, grace=0, operations={})
        late = await store.finish(
            db,
            store.Claimed(running, "gpu/0"),
            store.Outcome("completed", result={"late": True}),
            worker_id="ghost",
            slots=slots,
            hand_on=False,
        )
        assert late.job is None and late.next is None
    finally:
        for worker in workers:
            worker.stop()
