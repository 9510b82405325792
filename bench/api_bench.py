"""HTTP API figures on the embedded PostgreSQL: submit and status latency under concurrent clients,
with a deep queue behind them (no processor, so the queue stays deep).

Run: `.venv/bin/python bench/api_bench.py` (or `make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support when run as a script

import httpx
from sqlalchemy import text

from app import db
from bench.queue_bench import fresh_database, percentiles
from tests.support.auth import create_user
from tests.support.processes import start_server

GENERATE = {"job_type": "generate", "request": {"model": "tinyllama", "prompt": "Why is the sky blue?"}}


async def timed(calls: list[float], coro) -> httpx.Response:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    response = await coro
    calls.append(time.perf_counter() - started)
    response.raise_for_status()
    return response


async def main(args: argparse.Namespace) -> None:
    import pgserver

    with tempfile.TemporaryDirectory(prefix="aijobs-api-bench-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        url = await fresh_database(server.get_uri(), "bench_api")
        engine = db.create_engine(url)
        tokens = [(await create_user(engine, f"user{n}"))[1] for n in range(args.clients)]
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO ai_jobs (user_id, username, job_type, request_data) "
                    "SELECT 'user' || (n % :users), 'user' || (n % :users), 'generate', '{}'::jsonb "
                    "FROM generate_series(1, :depth) AS n"
                ),
                {"users": args.clients, "depth": args.queue_depth},
            )
            await conn.execute(text("ANALYZE ai_jobs"))
        env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "MAX_QUEUED_PER_USER": "100000000"}
        api, base_url = start_server(env, processor=False)
        print(f"aijobs API benchmark — {args.clients} concurrent clients, {args.queue_depth:,} jobs queued, 2 cores\n")
        try:
            submits: list[float] = []
            statuses: list[float] = []

            async def client(token: str) -> None:
                headers = {"Authorization": f"Bearer {token}"}
                async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
                    for _ in range(args.requests):
                        accepted = await timed(submits, http.post("/api/ai-agent/jobs", json=GENERATE))
                        job_id = accepted.json()["job_id"]
                        await timed(statuses, http.get(f"/api/ai-agent/job/{job_id}/status"))

            started = time.perf_counter()
            await asyncio.gather(*(client(token) for token in tokens))
            elapsed = time.perf_counter() - started
            print(f"submit (202)   {percentiles(submits)}")
            print(f"status (queued){percentiles(statuses)}")
            print(f"throughput     {len(submits + statuses) / elapsed:8.0f} requests/s over {elapsed:.1f} s")
        finally:
            api.stop()
            await engine.dispose()
            server.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50, help="submit+status pairs per client")
    parser.add_argument("--queue-depth", type=int, default=100_000)
    asyncio.run(main(parser.parse_args()))
