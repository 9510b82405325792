"""Look-ahead loading: an idle host loads a model ahead of time when queued jobs need it and the only hosts
that have it are busy — once, as a pinned `model.load` job; never when an idle host already has it, nor
for a single job (the busy warm host takes that one next)."""

from __future__ import annotations

import asyncpg

from app.services.fleet import hosts as fleet_hosts
from app.services.fleet.lookahead import LookAhead
from app.services.queue import store


async def setup(db: asyncpg.Pool, *, queued: int, box_a_busy: bool = True) -> None:
    await fleet_hosts.add(db, "box-a", "http://box-a:11434", 1, None, [])
    await fleet_hosts.add(db, "box-b", "http://box-b:11434", 1, None, [])
    await db.execute("UPDATE hosts SET loaded_models = '{llama3:latest}' WHERE name = 'box-a'")
    await db.execute("UPDATE hosts SET reachable = false WHERE name = 'default'")
    if box_a_busy:
        await db.execute(
            "INSERT INTO leases (key, holder, host, expires_at) VALUES ('gpu/box-a/0', 'someone', 'box-a', "
            "now() + interval '1 minute')"
        )
    for n in range(queued):
        new = store.NewJob(f"user{n}", f"user{n}", "generate", {"prompt": "x"}, model="llama3:latest")
        await store.enqueue(db, new, quota=10)
    await db.execute("UPDATE ai_jobs SET run_at = now() - interval '5 seconds'")


async def test_an_idle_host_loads_the_model_queued_jobs_wait_for_once(db: asyncpg.Pool) -> None:
    await setup(db, queued=3)
    look_ahead = LookAhead(db, interval=60)
    load = await look_ahead.run_once()
    assert load is not None and load.job_type == "model.load" and load.model == "llama3:latest"
    assert load.requires == ["host:box-b"] and load.request_data == {"model": "llama3:latest"}
    assert "ahead of 3 queued" in (load.details or "")
    assert await look_ahead.run_once() is None, "a load is on its way: not a second one"


async def test_one_queued_job_is_left_for_the_warm_host(db: asyncpg.Pool) -> None:
    await setup(db, queued=1)
    assert await LookAhead(db, interval=60).run_once() is None


async def test_nothing_is_loaded_when_an_idle_host_has_the_model(db: asyncpg.Pool) -> None:
    await setup(db, queued=3, box_a_busy=False)
    assert await LookAhead(db, interval=60).run_once() is None
