"""The floors aijobs is measured against: what the same work costs done the plainest way, on the same
PostgreSQL server, the same Ollama stand-in and the same uvicorn settings.

- `BareQueue`: a minimal job table of its own and a bare asyncpg loop. Enqueue is one INSERT (with
  the NOTIFY that wakes a consumer, in the same statement); a slot claims the next job with
  `FOR UPDATE SKIP LOCKED` (one statement, its own commit), runs a no-op and marks it done (one more
  statement, one more commit): two round trips and two commits (fsyncs) per job, each slot on a
  connection of its own.
- `back_to_back`: the generate requests a job sends to Ollama, sent straight from an httpx loop.
- The hello app (`python bench/floors.py hello --port N --database-url URL`): FastAPI on
  `uvicorn.run` with the arguments `aijobs serve` gives it: `GET /hello` answers a constant,
  `GET /hello/query/{id}` adds one asyncpg query (a job's status by primary key; the pool sends
  nothing when a connection goes back to it, so that is one round trip), `POST /hello` validates a
  job-submission-shaped pydantic body and answers 202.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/floors.py hello`

import asyncpg
import httpx
from fastapi import FastAPI, Request
from pydantic import BaseModel

from app import db

# ---- the bare asyncpg loop -------------------------------------------------------------------------

BARE_SCHEMA = """
CREATE TABLE IF NOT EXISTS bare_jobs (
    id bigserial PRIMARY KEY,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'queued',
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS bare_jobs_queued_idx ON bare_jobs (id) WHERE status = 'queued';
"""
BARE_CHANNEL = "bare_queued"
BARE_ENQUEUE = f"""
WITH job AS (INSERT INTO bare_jobs (payload) VALUES ($1::jsonb) RETURNING id)
SELECT id, pg_notify('{BARE_CHANNEL}', '') FROM job
"""
BARE_ENQUEUE_MANY = "INSERT INTO bare_jobs (payload) SELECT '{}'::jsonb FROM generate_series(1, $1)"
BARE_CLAIM = """
UPDATE bare_jobs SET status = 'running', started_at = now()
WHERE id = (SELECT id FROM bare_jobs WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id, payload
"""
BARE_DONE = "UPDATE bare_jobs SET status = 'done', finished_at = now() WHERE id = $1"


async def noop_handler(_payload: object) -> None:
    """What the bare loop runs per job, as aijobs runs a no-op job type."""


class BareQueue:
    """The floor of drain, enqueue and pickup: connections of its own, opened once."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conns: list[asyncpg.Connection] = []

    async def open(self, slots: int) -> None:
        first = await db.connect_raw(self.url)
        await first.execute(BARE_SCHEMA)
        self.conns = [first] + [await db.connect_raw(self.url) for _ in range(slots)]

    async def close(self) -> None:
        for conn in self.conns:
            await conn.close()

    async def enqueue(self, payload: str = '{"n": 0}') -> int:
        """One job, one statement: the INSERT and its NOTIFY."""
        return int(await self.conns[0].fetchval(BARE_ENQUEUE, payload))

    async def fill(self, count: int) -> None:
        await self.conns[0].execute(BARE_ENQUEUE_MANY, count)

    async def drain(self, slots: int, on_job: Callable[[], None] = lambda: None) -> int:
        """Run every queued job with `slots` concurrent claim loops (`on_job` called as each begins);
        how many ran."""

        async def slot(conn: asyncpg.Connection) -> int:
            done = 0
            while True:
                job = await conn.fetchrow(BARE_CLAIM)
                if job is None:
                    return done
                on_job()
                await noop_handler(job["payload"])
                await conn.execute(BARE_DONE, job["id"])
                done += 1

        return sum(await asyncio.gather(*(slot(conn) for conn in self.conns[1 : slots + 1])))

    async def pickup(self, samples: int, pause: float) -> list[float]:
        """Enqueue call → the handler's first line, with a consumer woken by LISTEN/NOTIFY, idle between samples."""
        listener = await db.connect_raw(self.url)
        worker = self.conns[1]
        woken: asyncio.Queue[None] = asyncio.Queue()
        handled: asyncio.Queue[float] = asyncio.Queue()
        await listener.add_listener(BARE_CHANNEL, lambda *_: woken.put_nowait(None))

        async def consume() -> None:
            while True:
                await woken.get()
                while (job := await worker.fetchrow(BARE_CLAIM)) is not None:
                    handled.put_nowait(time.perf_counter())  # the handler's first line
                    await noop_handler(job["payload"])
                    await worker.execute(BARE_DONE, job["id"])

        await self.drain(1)  # nothing left over from an earlier measure
        consumer = asyncio.create_task(consume())
        latencies = []
        try:
            for _ in range(samples):
                started = time.perf_counter()
                await self.enqueue()
                latencies.append(await handled.get() - started)
                await asyncio.sleep(pause)
        finally:
            consumer.cancel()
            await listener.close()
        return latencies


# ---- straight at Ollama ----------------------------------------------------------------------------


async def back_to_back(base_url: str, bodies: list[dict[str, Any]]) -> None:
    """The requests a generate job sends (streamed), one after another from one httpx client."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        for body in bodies:
            async with http.stream("POST", "/api/generate", json=body) as response:
                response.raise_for_status()
                async for _line in response.aiter_lines():
                    pass


# ---- the hello app -------------------------------------------------------------------------------


class Submit(BaseModel):
    """The shape of a job submission."""

    job_type: str
    request: dict[str, Any]
    priority: int = 0
    details: str | None = None


def hello_app(database_url: str) -> FastAPI:
    async def keep(_conn: asyncpg.Connection) -> None:
        """The query changes no session state: nothing to reset when a connection goes back."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = await asyncpg.create_pool(db.asyncpg_dsn(database_url), min_size=1, max_size=10, reset=keep)
        try:
            yield
        finally:
            await app.state.db.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/hello/query/{job_id}")
    async def hello_query(job_id: uuid.UUID, request: Request) -> dict[str, Any]:
        row = await request.app.state.db.fetchrow("SELECT id, status FROM ai_jobs WHERE id = $1", job_id)
        return {"job_id": str(row["id"]), "status": row["status"]}

    @app.post("/hello", status_code=202)
    async def hello_post(body: Submit) -> dict[str, Any]:
        return {"job_id": str(uuid.uuid4()), "status": "queued", "job_type": body.job_type}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the hello app (the floor of the HTTP figures).")
    parser.add_argument("command", choices=["hello"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    import uvicorn

    # What `aijobs serve` passes (app/cli.py cmd_serve), with LOG_LEVEL=WARNING as the bench sets it.
    uvicorn.run(
        hello_app(args.database_url),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips="*",
    )


if __name__ == "__main__":
    main()
