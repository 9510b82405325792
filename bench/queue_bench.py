"""Queue benchmark: prints figures, asserts nothing. Run with `make bench` (or `python bench/queue_bench.py`).

On a fresh embedded PostgreSQL with the Ollama stand-in, it measures:
- enqueue rate (jobs/s), one transaction per job, from 1 and from 8 concurrent clients;
- no-op job throughput with 1 slot (queue overhead only: the handler does nothing);
- idle pickup latency: enqueue committed → job running in a separate `aijobs worker` process;
- GPU idle gap with a full queue: one request to Ollama ends → the next one reaches it;
- claim time with 1k, 100k and 1M queued rows (spread over 50 users).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support when run as a script

import itertools

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app import db, migrate
from app.config import load_settings
from app.services.queue import store
from app.services.queue.job_type import JobContext, JobType
from app.services.queue.processor import Processor
from tests.support.processes import start_worker
from tests.support.simulator import start_simulator


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)

    def pick(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return f"p50 {pick(0.50):7.2f} ms   p95 {pick(0.95):7.2f} ms   p99 {pick(0.99):7.2f} ms   (n={len(values)})"


def new_job(n: int, job_type: str = "generate", users: int = 4) -> store.NewJob:
    user = f"user{n % users}"
    return store.NewJob(
        user_id=user,
        username=user,
        job_type=job_type,
        request_data={"model": "tinyllama", "prompt": f"job {n}"},
    )


async def fresh_database(server_url: str, name: str) -> str:
    conn = await db.connect_raw(server_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    await migrate.upgrade_async(url)
    return url


async def bench_enqueue(engine: AsyncEngine, count: int) -> None:
    async def one(n: int) -> None:
        async with engine.begin() as conn:
            await store.enqueue(conn, new_job(n))

    started = time.perf_counter()
    for n in range(count):
        await one(n)
    serial = count / (time.perf_counter() - started)

    started = time.perf_counter()
    for base in range(0, count, 8):
        await asyncio.gather(*(one(base + i) for i in range(8)))
    concurrent = count / (time.perf_counter() - started)
    print(f"enqueue rate            {serial:8.0f} jobs/s (1 client)   {concurrent:8.0f} jobs/s (8 clients)")


class NoopJob(JobType[Any]):
    job_type = "noop"
    label = "No-op"
    operation = "No-op"

    def parse(self, data: dict[str, Any]) -> Any:
        return data

    async def run(self, ctx: JobContext, request: Any) -> dict[str, Any]:
        return {}


async def bench_noop_throughput(engine: AsyncEngine, url: str, count: int) -> None:
    async with engine.begin() as conn:
        for n in range(count):
            await store.enqueue(conn, new_job(n, "noop"))
    settings = load_settings(database_url=url, max_concurrent_jobs=1, job_processing_interval=1)
    processor = Processor(settings=settings, engine=engine, database_url=url, job_types={"noop": NoopJob()})
    started = time.perf_counter()
    await processor.start()
    async with engine.connect() as conn:
        while (
            await conn.execute(text("SELECT count(*) FROM ai_jobs WHERE job_type = 'noop' AND status <> 'completed'"))
        ).scalar():
            await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await processor.stop(grace=0)
    print(f"no-op throughput        {count / elapsed:8.0f} jobs/s with 1 slot ({count} jobs in {elapsed:.2f} s)")


async def wait_all_done(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        while (await conn.execute(text("SELECT count(*) FROM ai_jobs WHERE status IN ('queued', 'running')"))).scalar():
            await asyncio.sleep(0.05)  # poll gently: the figures come from the simulator log


async def bench_pickup(engine: AsyncEngine, samples: int) -> None:
    latencies = []
    for n in range(samples):
        async with engine.begin() as conn:
            job = (await store.enqueue(conn, new_job(n))).job
        committed = time.time()
        async with engine.connect() as conn:
            while True:
                started = (
                    await conn.execute(text("SELECT started_at FROM ai_jobs WHERE id = :id"), {"id": job.id})
                ).scalar()
                if started is not None:
                    break
                await asyncio.sleep(0.0005)
        latencies.append(max(0.0, started.timestamp() - committed))
        await wait_all_done(engine)
    print(f"idle pickup latency     {percentiles(latencies)}")


async def bench_idle_gap(engine: AsyncEngine, sim: Any, count: int) -> None:
    sim.reset()
    async with engine.begin() as conn:
        for n in range(count):
            await store.enqueue(conn, new_job(n))
    await wait_all_done(engine)
    log = sorted((entry for entry in sim.stats()["log"] if entry["endpoint"] == "generate"), key=lambda e: e["start"])
    gaps = [max(0.0, later["start"] - earlier["end"]) for earlier, later in itertools.pairwise(log)]
    print(f"GPU idle gap (full q.)  {percentiles(gaps)}")


async def bench_claim(server_url: str, sizes: list[int]) -> None:
    url = await fresh_database(server_url, "bench_claim")
    engine = db.create_engine(url)
    holder = store.SlotHolder(operation="bench", details=None)
    inserted = 0
    for size in sizes:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO ai_jobs (user_id, username, job_type, request_data) "
                    "SELECT 'u' || (n % 50), 'u' || (n % 50), 'generate', '{}'::jsonb "
                    "FROM generate_series(:start, :stop - 1) AS n"
                ),
                {"start": inserted, "stop": size},
            )
            await conn.execute(
                text(
                    "INSERT INTO pool_users (pool, user_id) SELECT 'gpu', 'u' || n FROM generate_series(0, 49) n "
                    "ON CONFLICT DO NOTHING"
                )
            )
        inserted = size
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE ai_jobs"))
        timings = []
        for _ in range(200):
            async with engine.connect() as conn:
                transaction = await conn.begin()
                started = time.perf_counter()
                job = await store.claim(
                    conn, pool="gpu", capacity=1, worker_id="bench", ttl=30, describe=lambda *_: holder
                )
                timings.append(time.perf_counter() - started)
                assert job is not None
                await transaction.rollback()  # keep the queue as it was
        print(f"claim, {size:>9,} queued  {percentiles(timings)}")
    await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    import pgserver

    with tempfile.TemporaryDirectory(prefix="aijobs-bench-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        server_url = server.get_uri()
        print(f"aijobs queue benchmark — embedded PostgreSQL, {os.cpu_count()} cores\n")

        url = await fresh_database(server_url, "bench_main")
        engine = db.create_engine(url)
        await bench_enqueue(engine, args.enqueue)
        async with engine.begin() as conn:
            await conn.execute(text("TRUNCATE ai_jobs CASCADE"))
        await bench_noop_throughput(engine, url, args.noop)

        sim = start_simulator(token_delay=0.001, tokens=3)
        env = {**os.environ, "DATABASE_URL": url, "OLLAMA_BASE_URL": sim.base_url, "LOG_LEVEL": "WARNING"}
        worker = start_worker(env)
        try:
            await bench_pickup(engine, args.pickup)
            await bench_idle_gap(engine, sim, args.gap)
        finally:
            worker.stop()
            sim.stop()
        await engine.dispose()
        await bench_claim(server_url, args.claim_sizes)
        server.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enqueue", type=int, default=2000, help="jobs to enqueue for the enqueue rate")
    parser.add_argument("--noop", type=int, default=1000, help="no-op jobs for the throughput figure")
    parser.add_argument("--pickup", type=int, default=200, help="samples of idle pickup latency")
    parser.add_argument("--gap", type=int, default=300, help="jobs queued at once for the idle-gap figure")
    parser.add_argument(
        "--claim-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1_000, 100_000, 1_000_000]
    )
    asyncio.run(main(parser.parse_args()))
