"""The GPU cap and "nothing finished is thrown away" under real faults: a worker paused past its lease
(SIGSTOP), a worker cut off from the database (a proxy the test controls), PostgreSQL stopped and started
while a job completes. The Ollama stand-in holds the first generation mid-answer, so each test acts on a
job it knows is running, and counts the requests it ever had in flight at once."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pgserver
import pytest
from pgserver._commands import pg_ctl
from sqlalchemy.engine import make_url

from app import db as app_db
from app import migrate
from app.services.queue import store
from tests.support.auth import bearer, create_user
from tests.support.jobs import TERMINAL, submit
from tests.support.processes import start_server, start_worker
from tests.support.proxy import DatabaseProxy
from tests.support.simulator import Simulator
from tests.support.waiting import job_reaches, until


async def lease_expired(db: asyncpg.Pool) -> bool:
    return bool(await db.fetchval("SELECT bool_and(expires_at < now()) FROM leases"))


async def test_a_worker_paused_past_its_lease_stops_before_another_runs_the_job(
    db: asyncpg.Pool, sim: Simulator, service_env: dict[str, str]
) -> None:
    """Paused longer than its lease (but not past lease + grace), a worker that continues closes its
    stream at once; the job runs again only after the grace, elsewhere: never two at once."""
    env = {**service_env, "OLLAMA_BASE_URL": sim.base_url, "LEASE_TTL_SECONDS": "3", "LEASE_RESCUE_GRACE_SECONDS": "8"}
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)  # the first run stops mid-answer
    first = await asyncio.to_thread(start_worker, env)
    second = None
    try:
        job = await submit(db)
        await asyncio.to_thread(sim.wait_held, 1)
        second = await asyncio.to_thread(start_worker, env)
        os.kill(first.pid, signal.SIGSTOP)
        await until(lambda: lease_expired(db), within=10, what="the paused worker's lease to expire")
        os.kill(first.pid, signal.SIGCONT)
        done = await job_reaches(db, job.id, TERMINAL, within=60)
        assert done.status == "completed", done.error_message
        assert done.attempt == 2, "it ran again after the paused worker stopped"
        stats = sim.stats()
        assert stats["max_in_flight"] == 1, "never two generations at once on one slot"
        assert stats["disconnects"] == 1, "the paused worker closed its own stream"
        assert "stopping its GPU work" in first.output()
    finally:
        for worker in (first, second):
            if worker is not None:
                os.kill(worker.pid, signal.SIGCONT)
                worker.stop()


async def test_a_worker_cut_off_from_the_database_stops_its_gpu_work(
    db: asyncpg.Pool, database: str, sim: Simulator, service_env: dict[str, str]
) -> None:
    """A worker that cannot renew its lease (the database is unreachable for it, not for the others)
    stops its GPU work before another worker may take the job over."""
    proxy = DatabaseProxy(database)
    proxied = await proxy.start()
    base = {**service_env, "OLLAMA_BASE_URL": sim.base_url, "LEASE_TTL_SECONDS": "3", "LEASE_RESCUE_GRACE_SECONDS": "2"}
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    cut_off = await asyncio.to_thread(start_worker, {**base, "DATABASE_URL": proxied})
    direct = None
    try:
        job = await submit(db)
        await asyncio.to_thread(sim.wait_held, 1)
        direct = await asyncio.to_thread(start_worker, base)
        proxy.cut()
        done = await job_reaches(db, job.id, TERMINAL, within=60)
        assert done.status == "completed", done.error_message
        assert done.attempt == 2 and (done.worker_id is None)
        stats = sim.stats()
        assert stats["max_in_flight"] == 1, "never two generations at once on one slot"
        assert stats["disconnects"] == 1, "the cut-off worker closed its own stream"
    finally:
        await proxy.stop()
        for worker in (cut_off, direct):
            if worker is not None:
                worker.stop()


async def test_a_job_stopped_for_a_lost_lease_is_requeued_by_its_worker_when_the_database_returns(
    db: asyncpg.Pool, database: str, sim: Simulator, service_env: dict[str, str]
) -> None:
    """The worker that stopped a job because it could not renew its lease puts it back in the queue
    itself as soon as the database answers again (fenced by the attempt), instead of leaving it
    `running` until the rescuer's grace (here a minute) has passed — and does not renew its lease."""
    proxy = DatabaseProxy(database)
    proxied = await proxy.start()
    env = {
        **service_env,
        "DATABASE_URL": proxied,
        "OLLAMA_BASE_URL": sim.base_url,
        "LEASE_TTL_SECONDS": "3",
        "LEASE_RESCUE_GRACE_SECONDS": "60",
    }
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    worker = await asyncio.to_thread(start_worker, env)
    try:
        job = await submit(db)
        await asyncio.to_thread(sim.wait_held, 1)
        proxy.cut()
        await until(lambda: sim.stats()["disconnects"] == 1, within=30, what="the worker closing its own stream")
        proxy.restore()
        done = await job_reaches(db, job.id, TERMINAL, within=45)
        assert done.status == "completed" and done.attempt == 2, done.error_message
        messages = [row["message"] or "" for row in await db.fetch(
            "SELECT message FROM job_events WHERE job_id = $1 ORDER BY id", job.id)]  # fmt: skip
        assert any("lease was not renewed in time" in message for message in messages), messages
        assert not any(message.startswith("rescued") for message in messages), "its worker re-queued it"
        assert sim.stats()["max_in_flight"] == 1
    finally:
        await proxy.stop()
        worker.stop()


@pytest.fixture
def restartable_postgres() -> Iterator[tuple[pgserver.PostgresServer, str]]:
    """A PostgreSQL of this test's own, to stop and start (the session's is shared by every test)."""
    with tempfile.TemporaryDirectory(prefix="aijobs-restart-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="stop")
        server.psql("CREATE DATABASE faults;")
        url = make_url(server.get_uri()).set(database="faults").render_as_string(hide_password=False)
        migrate.upgrade(url)
        yield server, url
        server.cleanup()


def stop_postgres(server: pgserver.PostgresServer) -> None:
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


async def test_a_result_computed_while_postgres_restarts_is_kept(
    restartable_postgres: tuple[pgserver.PostgresServer, str], sim: Simulator, service_env: dict[str, str]
) -> None:
    """PostgreSQL stops as a job finishes: the API answers 503 JSON with Retry-After meanwhile, the result
    is written once the database is back (not computed again), and the first request afterwards works."""
    server, url = restartable_postgres
    engine = app_db.create_engine(url, pool_size=1)
    try:
        _, token = await create_user(engine, "alice")
    finally:
        await engine.dispose()
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    env = {**service_env, "DATABASE_URL": url, "OLLAMA_BASE_URL": sim.base_url, "LEASE_TTL_SECONDS": "30"}
    api, base_url = await asyncio.to_thread(start_server, env)
    client = httpx.AsyncClient(base_url=base_url, headers=bearer(token), timeout=15)
    try:
        body = {"job_type": "generate", "request": {"model": "tinyllama", "prompt": "Why is the sky blue?"}}
        job_id = (await client.post("/api/ai-agent/jobs", json=body)).json()["job_id"]
        await asyncio.to_thread(sim.wait_held, 1)

        await asyncio.to_thread(stop_postgres, server)
        during = await client.get(f"/api/ai-agent/job/{job_id}/status")
        assert during.status_code == 503 and during.headers["Retry-After"].isdigit()
        assert during.json()["error"]["code"] == "database_unavailable"
        sim.release()  # the generation ends while the database is down
        await until(
            lambda: api.output().count("recording its outcome failed") >= 5,
            within=30,
            what="the outcome write to be retried for longer than 3 s",
        )
        await asyncio.to_thread(server.ensure_postgres_running)

        after = await client.get(f"/api/ai-agent/job/{job_id}/status")
        assert after.status_code == 200, after.text  # the first request after the restart works
        deadline = time.monotonic() + 30
        while (status := (await client.get(f"/api/ai-agent/job/{job_id}/status")).json())["status"] != "completed":
            assert status["status"] == "running" and time.monotonic() < deadline, status
            await asyncio.sleep(0.1)
        assert status["attempt"] == 1 and status["progress"]["text"], "the result computed during the outage"
        assert sim.stats()["requests"]["generate"] == 1, "the job ran once"
    finally:
        await client.aclose()
        api.stop()


async def test_an_early_start_whose_hand_off_cannot_be_written_stops_at_the_borrowed_leases_deadline(
    db: asyncpg.Pool, database: str, sim: Simulator, service_env: dict[str, str]
) -> None:
    """The next job's request goes out as the job before it ends, under that job's slot lease, before
    FINISH confirms it. Cut off from the database at that moment, the worker can neither confirm it nor
    renew the lease: the early start is stopped at the lease's deadline, before another worker may take
    the slot, and nothing of it is recorded. The other worker then runs both jobs, each completing once
    more; never two generations at once."""
    proxy = DatabaseProxy(database)
    proxied = await proxy.start()
    base = {
        **service_env,
        "OLLAMA_BASE_URL": sim.base_url,
        "LEASE_TTL_SECONDS": "3",
        "LEASE_RESCUE_GRACE_SECONDS": "2",
    }
    sim.configure(token_delay=0.03, tokens=150)  # 4.5 s: longer than any deadline left when the cut comes
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    first = await submit(db, request={"model": "tinyllama", "prompt": "first", "options": {"num_predict": 2}})
    second = await submit(db, request={"model": "tinyllama", "prompt": "second"})
    cut_off = await asyncio.to_thread(start_worker, {**base, "DATABASE_URL": proxied})
    direct = None
    try:
        await asyncio.to_thread(sim.wait_held, 1)
        reserved = "SELECT reserved_for = $1 FROM ai_jobs WHERE id = $2"
        await until(lambda: db.fetchval(reserved, first.id, second.id), what="the second job reserved")
        direct = await asyncio.to_thread(start_worker, base)
        proxy.cut()
        sim.release()  # the first job ends; the second's request goes out at once, unconfirmed
        await until(lambda: sim.stats()["disconnects"] >= 1, within=30, what="the early start stopped")
        for job in (first, second):
            done = await job_reaches(db, job.id, TERMINAL, within=60)
            assert done.status == "completed", done.error_message
        prompts = [entry["prompt"] for entry in sim.stats()["log"] if entry["endpoint"] == "generate"]
        assert prompts.count("second") == 2, "the stopped early start, then the run that counted"
        assert sim.stats()["max_in_flight"] == 1, "never two generations at once on one slot"
        later = await store.get_job(db, second.id)
        assert later is not None and later.attempt == 1, "the early start was never an attempt"
        events = await db.fetch("SELECT status FROM job_events WHERE job_id = $1 ORDER BY id", second.id)
        assert [row["status"] for row in events] == ["queued", "running", "completed"]
        assert "its early start was stopped" in cut_off.output()
    finally:
        await proxy.stop()
        for worker in (cut_off, direct):
            if worker is not None:
                worker.stop()
