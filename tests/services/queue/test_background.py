"""The queue's background services, one pass at a time (`run_once`), against a real PostgreSQL: the
rescuer, the queue-deadline sweeper, the cleaner; and the supervisor that keeps every loop alive."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from app.services.queue import store
from app.services.queue.cleaner import Cleaner
from app.services.queue.deadlines import DeadlineSweeper
from app.services.queue.rescuer import Rescuer
from app.services.queue.supervisor import TaskGroup
from tests.services.queue.test_store import claim, enqueue, expire_leases, finish, new_job
from tests.support.waiting import until


async def test_the_rescuer_requeues_a_job_whose_lease_expired_past_its_grace(db: asyncpg.Pool) -> None:
    moved: list[uuid.UUID] = []
    rescuer = Rescuer(db, interval=60, on_moved=moved.append)
    await enqueue(db, new_job())
    claimed = await claim(db, grace=30)
    assert claimed is not None
    assert await rescuer.run_once() == 0, "a live lease is left alone"
    await expire_leases(db, seconds_ago=10)
    assert await rescuer.run_once() == 0, "within its grace the runner may still be stopping"
    await expire_leases(db, seconds_ago=31)
    assert await rescuer.run_once() == 1 and moved == [claimed.job.id]
    assert (await store.get_job(db, claimed.job.id)).status == "queued"  # type: ignore[union-attr]
    assert await db.fetchval("SELECT count(*) FROM leases") == 0


async def test_the_deadline_sweeper_fails_queued_jobs_past_their_deadline(db: asyncpg.Pool) -> None:
    moved: list[uuid.UUID] = []
    sweeper = DeadlineSweeper(db, interval=60, on_moved=moved.append)
    past = await db.fetchval("SELECT now() - interval '1 second'")
    late = await enqueue(db, new_job(queue_deadline=past))
    on_time = await enqueue(db, new_job())
    assert await sweeper.run_once() == 1 and moved == [late.id]
    assert (await store.get_job(db, on_time.id)).status == "queued"  # type: ignore[union-attr]


async def test_the_cleaner_deletes_old_finished_jobs_only(db: asyncpg.Pool) -> None:
    finished = await enqueue(db, new_job())
    claimed = await claim(db)
    assert claimed is not None and claimed.job.id == finished.id
    await finish(db, claimed)
    waiting = await enqueue(db, new_job())
    await db.execute(
        "UPDATE ai_jobs SET finished_at = now() - interval '10 days', created_at = now() - interval '10 days'"
    )
    assert await Cleaner(db, days=7).run_once() == 1
    assert await store.get_job(db, finished.id) is None and await store.get_job(db, waiting.id) is not None


class FailsOnce:
    """A background loop that raises `error` the first time it runs, then runs until cancelled."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.runs = 0

    async def __call__(self) -> None:
        self.runs += 1
        if self.runs == 1:
            raise self.error
        await asyncio.Event().wait()


async def test_the_supervisor_restarts_a_loop_that_crashes_and_says_so() -> None:
    flaky = FailsOnce(RuntimeError("lost the database"))
    group = TaskGroup(restart_delay=0.01)
    group.spawn("flaky", flaky)
    await until(lambda: flaky.runs == 2, what="the crashed loop to be started again")
    health = group.health()["flaky"]
    assert health["alive"] and health["last_error"] == "RuntimeError: lost the database"
    await group.cancel_all()
    assert group.health() == {}


async def test_a_database_outage_is_a_one_line_warning_not_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    """Every PostgreSQL restart stopped each background loop with an ERROR and a traceback (`make chaos`
    counted dozens): an outage is expected and said in one line; the loop starts again all the same."""
    loop = FailsOnce(ConnectionRefusedError("connection refused"))
    group = TaskGroup(restart_delay=0.01)
    with caplog.at_level("WARNING", logger="app.services.queue.supervisor"):
        group.spawn("rescuer", loop)
        await until(lambda: loop.runs == 2, what="the loop to be started again")
    [record] = [r for r in caplog.records if r.name == "app.services.queue.supervisor"]
    assert record.levelname == "WARNING" and record.exc_info is None and "connection refused" in record.getMessage()
    await group.cancel_all()
