"""The fleet view: each host's state, what it has loaded, what runs on it (from its slots' leases, with
the job's model, never the request), the queued jobs that are warm there, what it learned per model."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from app.config import load_settings
from app.errors import NotFound
from app.services.fleet import hosts, sql, views

LOADED = [{"name": "llama3.2:latest", "size": 3 * 2**30, "expires_at": "2026-12-02T06:00:00Z"}]


async def job(db: asyncpg.Pool, status: str, model: str, username: str = "alice") -> uuid.UUID:
    return await db.fetchval(
        "INSERT INTO ai_jobs (user_id, username, job_type, status, model, request_data) "
        "VALUES ($1, $1, 'generate', $2, $3, '{\"prompt\": \"secret words\"}') RETURNING id",
        username,
        status,
        model,
    )


async def lease(db: asyncpg.Pool, key: str, host: str, job_id: uuid.UUID | None, expires: str, grace: float) -> None:
    await db.execute(
        "INSERT INTO leases (key, holder, host, job_id, username, operation, expires_at, grace_seconds) "
        f"VALUES ($1, 'worker-1', $2, $3, 'alice', 'AI Text Generation', now() + interval '{expires}', $4)",
        key,
        host,
        job_id,
        grace,
    )


async def test_a_host_shows_what_runs_on_it_what_it_has_loaded_and_learned(db: asyncpg.Pool) -> None:
    await hosts.add(db, "box-a", "http://10.0.0.1:11434", 2, 24 * 2**30, ["a100"])
    await hosts.add(db, "box-b", "http://10.0.0.2:11434", 1, None, [])
    await sql.PROBED.fetchrow(
        db,
        name="box-a",
        ok=True,
        down_after=3,
        version="0.5.7",
        loaded=LOADED,
        loaded_models=["llama3.2"],
        installed={"llama3.2": 3 * 2**30},
    )
    running = await job(db, "running", "llama3.2")
    await lease(db, "gpu/box-a/1", "box-a", running, "1 minute", 0)
    await lease(db, "gpu/box-a/0", "box-a", None, "-10 seconds", 1)  # ended: past its grace
    await lease(db, "gpu/box-b/0", "box-b", await job(db, "running", "qwen2"), "1 minute", 0)
    await lease(db, "folder:/srv", "box-a", None, "1 minute", 0)  # not a GPU slot
    for _ in range(2):
        await job(db, "queued", "llama3.2")
    await job(db, "queued", "qwen2")
    await db.execute(
        "INSERT INTO host_model_costs (host, model, loads, load_seconds, loading_seconds_total, jobs, failures, "
        "run_seconds, busy_seconds_total, tokens_per_second) "
        "VALUES ('box-a', 'llama3.2', 2, 4.5, 9, 10, 1, 1.5, 15, 80)"
    )

    fleet = await views.fleet(db, load_settings(scheduler="fifo"), show_urls=True)
    assert (fleet.scheduler, fleet.max_bypass_seconds) == ("fifo", 120.0)
    box_a = next(view for view in fleet.hosts if view.name == "box-a")
    shown = box_a.model_dump(mode="json")
    assert shown["probed_at"] is not None
    del shown["probed_at"]
    since = shown["running"][0].pop("since")
    assert since is not None
    assert shown == {
        "name": "box-a",
        "base_url": "http://10.0.0.1:11434",
        "slots": 2,
        "gpu_memory": 24 * 2**30,
        "labels": ["a100"],
        "state": "up",
        "reachable": True,
        "draining": False,
        "version": "0.5.7",
        "loaded": LOADED,
        "running": [
            {
                "slot": 1,
                "job_id": str(running),
                "username": "alice",
                "operation": "AI Text Generation",
                "model": "llama3.2",
            }
        ],
        "queued_warm": 2,
        "costs": [
            {
                "model": "llama3.2",
                "loads": 2,
                "load_seconds": 4.5,
                "run_seconds": 1.5,
                "tokens_per_second": 80.0,
                "jobs": 10,
                "failures": 1,
                "loading_seconds_total": 9.0,
                "busy_seconds_total": 15.0,
            }
        ],
    }
    assert "secret words" not in fleet.model_dump_json()
    box_b = next(view for view in fleet.hosts if view.name == "box-b")
    assert [(entry.slot, entry.model) for entry in box_b.running] == [(0, "qwen2")]
    assert (box_b.queued_warm, box_b.costs, box_b.loaded, box_b.version) == (0, [], [], None)


async def test_only_admins_see_a_hosts_address(db: asyncpg.Pool) -> None:
    await hosts.add(db, "box-a", "http://10.0.0.1:11434", 1, None, [])
    shown = await views.host_views(db, show_urls=False)
    assert shown and all(view.base_url is None for view in shown)
    assert (await views.one(db, "box-a")).base_url == "http://10.0.0.1:11434"
    with pytest.raises(NotFound):
        await views.one(db, "box-z")


async def test_state_follows_draining_and_reachability(db: asyncpg.Pool) -> None:
    await hosts.add(db, "box-a", "http://10.0.0.1:11434", 1, None, [])
    await db.execute("UPDATE hosts SET reachable = false WHERE name = 'box-a'")
    assert (await views.one(db, "box-a")).state == "down"
    await hosts.set_draining(db, "box-a", True)
    assert (await views.one(db, "box-a")).state == "draining"  # whatever the prober says
