"""The queue engine's side of the queue figures, in this process on the default event loop: drains
with a real `Processor` (no-op job type; leases, fencing, heartbeat and Socket.IO events all on),
enqueue one by one, pickup, round trips and Python CPU per job, the GPU idle gap with the real
generate job type against the Ollama stand-in, and status / lock-view time with a long history.
Each function measures once; `bench/run.py` interleaves them with their floors (`bench/floors.py`)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from app import db
from app.config import load_settings
from app.services.leases import gpu
from app.services.queue import store, views
from app.services.queue.job_type import JobContext, JobType
from app.services.queue.processor import Processor
from app.services.realtime.events import Events
from app.services.realtime.pg_manager import PostgresManager
from bench.common import WIRE

QUOTA = 1_000_000_000  # no queue quota in the way of a benchmark
IDLE_POLL = 60.0
STEADY_FROM = 10  # round trips per job are counted from this job's start to the last one's


class NoopRequest(BaseModel):
    model: str = "none"  # a request that names its model: the processor looks up no default model


class NoopJob(JobType[NoopRequest]):
    """Does nothing; tells the bench when its first line ran and when `expected` runs have begun."""

    job_type = "bench.noop"
    label = "No-op"
    operation = "Benchmark no-op"
    request_model = NoopRequest

    def __init__(self) -> None:
        self.began: asyncio.Queue[float] = asyncio.Queue()
        self.expected = 0
        self.all_began = asyncio.Event()
        self.marks: list[Counter[str]] = []  # round trips sent when job STEADY_FROM and the last job began

    async def run(self, ctx: JobContext, request: NoopRequest) -> dict[str, Any]:
        self.began.put_nowait(time.perf_counter())  # the handler's first line
        if self.began.qsize() in (STEADY_FROM, self.expected):
            self.marks.append(WIRE.counts.copy())
        if self.began.qsize() >= self.expected:
            self.all_began.set()
        return {}


def new_job(n: int, pool: str, job_type: str = NoopJob.job_type, request: dict[str, Any] | None = None) -> store.NewJob:
    user = f"user{n % 4}"
    return store.NewJob(
        user_id=user, username=user, job_type=job_type, pool=pool, request_data=request or {"model": "none"}
    )


@dataclass
class Worker:
    """A processor as `aijobs worker` runs it (app/cli.py `_run_worker`): with Events whose Socket.IO
    messages go out through a write-only PostgresManager (NOTIFY), on a pool of its own."""

    processor: Processor
    events: Events
    manager: PostgresManager
    events_db: asyncpg.Pool
    noop: NoopJob = field(default_factory=NoopJob)

    @property
    def pool(self) -> str:
        return self.processor.pool

    async def stop(self) -> None:
        await self.processor.stop(grace=5)
        await self.events.stop()
        await self.manager.close()
        await self.events_db.close()


async def start_worker(
    url: str,
    engine: AsyncEngine,
    *,
    pool: str,
    slots: int,
    ollama_url: str | None = None,
    noop: bool = True,
    events: bool = True,
) -> Worker:
    """`noop`: run only the no-op job type (else the service's own job types); `events`: with the
    Socket.IO events (off only to show what they cost)."""
    settings = load_settings(
        database_url=url,
        max_concurrent_jobs=slots,
        log_level="WARNING",
        # The safety-net poll (5 s by default; wake-ups come by NOTIFY): four processors share this
        # process, and their polls while idle would be counted in each other's round trips.
        job_processing_interval=IDLE_POLL,
        **({"ollama_base_url": ollama_url} if ollama_url else {}),
    )
    events_db = await db.create_pool(url, max_size=3)
    manager = PostgresManager(url, write_only=True)

    async def emit(event: str, data: dict[str, object], rooms: list[str] | None) -> None:
        await manager.emit(event, data, namespace="/", to=rooms)

    sender = Events(emit, events_db, capacity=slots, pool=pool, progress_interval=settings.socket_progress_interval)
    sender.start()
    job = NoopJob()
    processor = Processor(
        settings=settings,
        engine=engine,
        database_url=url,
        job_types={job.job_type: job} if noop else None,
        pool=pool,
        events=sender if events else None,
    )
    await processor.start()
    return Worker(processor, sender, manager, events_db, job)


@dataclass
class Drain:
    jobs: int
    seconds: float
    cpu_seconds: float
    trips: Counter[str]  # every round trip from the commit of the queue to SETTLE after its end
    # Those from the start of job STEADY_FROM to the last one's (past the drain's start: the claim that
    # took its first job, the wake-up's other statements): what each further job costs.
    steady: Counter[str]

    def steady_per_job(self, label: str | None = None) -> float:
        jobs = self.jobs - STEADY_FROM
        return (self.steady[label] if label is not None else sum(self.steady.values())) / jobs

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    @property
    def cpu_per_job(self) -> float:
        return self.cpu_seconds / self.jobs


SETTLE = 0.2  # after a drain: events still being sent count towards its CPU and round trips


async def drain(worker: Worker, pool: asyncpg.Pool, count: int) -> Drain:
    """Queue `count` no-op jobs in one transaction; time from its commit until the processor has
    finished them all (the last outcome written)."""
    noop = worker.noop
    while not noop.began.empty():
        noop.began.get_nowait()
    noop.expected, noop.all_began, noop.marks = count, asyncio.Event(), []
    async with pool.acquire() as conn, conn.transaction():
        for n in range(count):
            await store.enqueue(conn, new_job(n, worker.pool), quota=QUOTA)
    with WIRE.counted() as trips:
        cpu, started = time.process_time(), time.perf_counter()
        await noop.all_began.wait()
        while worker.processor.running:
            await asyncio.sleep(0.0005)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(SETTLE)
        cpu = time.process_time() - cpu
    return Drain(count, elapsed, cpu, trips, noop.marks[-1] - noop.marks[0])


async def bare_drain(bare: Any, slots: int, count: int) -> Drain:
    """The same for the bare loop (`floors.BareQueue`): fill, then drain with `slots` connections."""
    await bare.fill(count)
    marks: list[Counter[str]] = []
    began = 0

    def on_job() -> None:
        nonlocal began
        began += 1
        if began in (STEADY_FROM, count):
            marks.append(WIRE.counts.copy())

    with WIRE.counted() as trips:
        cpu, started = time.process_time(), time.perf_counter()
        ran = await bare.drain(slots, on_job)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(SETTLE)
        cpu = time.process_time() - cpu
    assert ran == count, (ran, count)
    return Drain(count, elapsed, cpu, trips, marks[-1] - marks[0])


async def enqueue(pool: asyncpg.Pool, queue: str, count: int) -> tuple[float, Counter[str]]:
    """`store.enqueue` one job at a time on a pool, as the API submits; jobs per second."""
    with WIRE.counted() as trips:
        started = time.perf_counter()
        for n in range(count):
            await store.enqueue(pool, new_job(n, queue), quota=QUOTA)
        elapsed = time.perf_counter() - started
    return count / elapsed, trips


async def pickup(worker: Worker, pool: asyncpg.Pool, samples: int, pause: float) -> list[float]:
    """Enqueue call → the no-op handler's first line, the processor idle before each job."""
    noop = worker.noop
    noop.expected = 1 << 30
    while not noop.began.empty():
        noop.began.get_nowait()
    latencies = []
    for n in range(samples):
        started = time.perf_counter()
        await store.enqueue(pool, new_job(n, worker.pool), quota=QUOTA)
        latencies.append(await noop.began.get() - started)
        while worker.processor.running:
            await asyncio.sleep(0.001)
        await asyncio.sleep(pause)
    return latencies


# ---- the GPU idle gap --------------------------------------------------------------------------------


def generate_request(n: int) -> dict[str, Any]:
    return {"model": "tinyllama", "prompt": f"Benchmark prompt {n}"}


def idle_gaps(sim: Any) -> list[float]:
    """From the Ollama stand-in's request log: each generate request's end → the next one's arrival."""
    log = sorted((e for e in sim.stats()["log"] if e["endpoint"] == "generate"), key=lambda e: e["start"])
    return [later["start"] - earlier["end"] for earlier, later in itertools.pairwise(log)]


async def set_reserve_ahead(worker: Worker, on: bool) -> None:
    """RESERVE_AHEAD on or off for a running worker (to show what it saves, on the same processor)."""
    processor = worker.processor
    processor.settings = processor.settings.model_copy(update={"reserve_ahead": on})
    await processor._load_hosts()  # its hosts' claim settings are built from it


async def generate_queue(worker: Worker, pool: asyncpg.Pool, count: int) -> None:
    """A full queue of generate jobs (queued in one transaction), run to the end by the processor."""
    async with pool.acquire() as conn, conn.transaction():
        for n in range(count):
            job = new_job(n, worker.pool, job_type="generate", request=generate_request(n))
            await store.enqueue(conn, job, quota=QUOTA)
    query = "SELECT count(*) FROM ai_jobs WHERE pool = $1 AND status IN ('queued', 'running')"
    while await pool.fetchval(query, worker.pool):
        await asyncio.sleep(0.05)
    failed = await pool.fetchval("SELECT count(*) FROM ai_jobs WHERE pool = $1 AND status <> 'completed'", worker.pool)
    assert failed == 0, f"{failed} generate jobs did not complete"


# ---- status and lock view with a long history ---------------------------------------------------------

HISTORY_USERS = 50
INSERT_FINISHED = f"""
INSERT INTO ai_jobs (user_id, username, job_type, status, pool, request_data, result_data, error_message,
                     error_kind, attempt, run_at, created_at, started_at, finished_at, updated_at)
SELECT 'user' || (n % {HISTORY_USERS}), 'user' || (n % {HISTORY_USERS}),
       (ARRAY['generate', 'chat', 'embed', 'report'])[n % 4 + 1],
       CASE WHEN n % 20 = 0 THEN 'failed' WHEN n % 20 = 1 THEN 'cancelled' ELSE 'completed' END,
       'gpu', '{{"model": "tinyllama", "prompt": "an old prompt"}}'::jsonb,
       CASE WHEN n % 20 > 1 THEN '{{"response": "an old answer"}}'::jsonb END,
       CASE WHEN n % 20 = 0 THEN 'Ollama error' END, CASE WHEN n % 20 = 0 THEN 'ollama' END,
       1, t, t, t + interval '1 second', t + interval '3 seconds', t + interval '3 seconds'
FROM generate_series(1, $1) AS n, LATERAL (SELECT now() - make_interval(secs => n * 0.5 + 60) AS t) AS at
"""


async def prepare_history(url: str, finished: int) -> Any:
    """`finished` finished jobs of 50 users (one INSERT … SELECT generate_series), then 20 queued
    jobs and one running job holding the GPU slot; the id of the last queued job."""
    conn = await asyncpg.connect(db.asyncpg_dsn(url))
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        await conn.execute(INSERT_FINISHED, finished)
        for n in range(21):
            user = f"user{n % 4}"
            job = store.NewJob(user_id=user, username=user, job_type="generate", request_data=generate_request(n))
            last = (await store.enqueue(conn, job, quota=QUOTA)).job.id
        slots = store.Slots(pool="gpu", keys=gpu.slot_keys("gpu", 1), ttl=86400, grace=10, operations={})
        assert await store.claim(conn, slots, "bench-history") is not None
        await conn.execute("VACUUM ANALYZE ai_jobs")
        return last
    finally:
        await conn.close()


async def status_and_lock(pool: asyncpg.Pool, job_id: Any, seconds: float) -> tuple[list[float], list[float]]:
    """What `GET …/status` and `GET …/lock` run (views.current_status, gpu.gpu_lock), each timed for
    about `seconds` / 2 (at least 5 samples, at most 100); the lock view first, so that it does not
    find the cache emptied by a slow status."""

    async def timed(call: Any) -> list[float]:
        times: list[float] = []
        deadline = time.perf_counter() + seconds / 2
        while len(times) < 5 or (len(times) < 100 and time.perf_counter() < deadline):
            started = time.perf_counter()
            await call()
            times.append(time.perf_counter() - started)
        return times

    async def status() -> None:
        current = await views.current_status(pool, job_id, 1)
        assert current is not None and current[1].position is not None

    async def lock() -> None:
        views.lock_view(await gpu.gpu_lock(pool, "gpu", 1))

    locks = await timed(lock)
    return await timed(status), locks


# ---- a deep queue: the hand-off and the status at 5,000 queued jobs against 200 ------------------------

# Queued jobs, of so many users, and users who used the pool before and have nothing queued now. The same
# users queue in both: the pick and the position visit each user with queued jobs (fairness is per user).
QUEUE_DEPTHS = ((200, 50, 0), (5_000, 50, 2_000))
DEPTH_SLOTS = store.Slots(pool="gpu", keys=gpu.slot_keys("gpu", 1), ttl=86400, grace=10, operations={})


@dataclass
class DeepQueue:
    """A queue of generate jobs, analyzed (as autovacuum would have it), one of them running. Each hand-off
    timed finishes the running job and starts the next; as many jobs are queued again after them, so the
    queue keeps its depth over any number of rounds."""

    pool: asyncpg.Pool  # with a processor's settings: the hand-offs
    api_pool: asyncpg.Pool  # with the API's: the status
    users: int
    running: store.Claimed | None = None
    last: Any = None  # the last job queued, whose status is asked
    queued: int = 0  # jobs queued so far

    async def enqueue(self, count: int) -> Any:
        """Queue `count` more jobs; the id of the last."""
        last = None
        for _ in range(count):  # each in its own transaction: one created_at each, so the last is last in line
            n, self.queued = self.queued, self.queued + 1
            user = f"user{n % self.users}"
            job = store.NewJob(user_id=user, username=user, job_type="generate", request_data=generate_request(n))
            last = (await store.enqueue(self.pool, job, quota=QUOTA)).job.id
        return last

    async def handoffs(self, count: int) -> list[float]:
        times = []
        for _ in range(count):
            assert self.running is not None, "the deep queue ran dry"
            started = time.perf_counter()
            finished = await store.finish(
                self.pool, self.running, store.Outcome("completed", result={}, progress={}), worker_id="bench-depth",
                slots=DEPTH_SLOTS, hand_on=True,
            )  # fmt: skip
            times.append(time.perf_counter() - started)
            self.running = finished.next
        if count:
            self.last = await self.enqueue(count)  # the job whose status is asked stays last in line
        return times

    async def statuses(self, count: int) -> list[float]:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            current = await views.current_status(self.api_pool, self.last, 1)
            times.append(time.perf_counter() - started)
            assert current is not None and current[1].position is not None
        return times


async def prepare_deep_queue(url: str, queued: int, users: int, past_users: int) -> DeepQueue:
    pool = await db.create_pool(url, max_size=2, processor=True)
    past = "INSERT INTO pool_users (pool, user_id, queued) SELECT 'gpu', 'past' || g, 0 FROM generate_series(1, $1) g"
    await pool.execute(past, past_users)
    queue = DeepQueue(pool, await db.create_pool(url, max_size=2), users)
    queue.last = await queue.enqueue(queued)
    await pool.execute("ANALYZE")
    queue.running = await store.claim(pool, DEPTH_SLOTS, "bench-depth")
    return queue
