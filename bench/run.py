"""`make bench`: the queue engine against floors measured in the same run (issue 13, "Benchmark").

One fresh embedded PostgreSQL, one Ollama stand-in, and for each measure its floor (`bench/floors.py`)
on the same server and settings. Every measure runs in each of ROUNDS interleaved rounds (floor and
aijobs take turns going first); the table shows each side's median over the rounds and the median of
the per-round ratios aijobs / floor. Timings on a shared 2-core machine are noisy: read the ratios.

    .venv/bin/python bench/run.py [--rounds 3] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import platform
import pstats
import re
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for app, bench and tests.support

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # platformdirs, through pgserver

import asyncpg

from app import db
from bench import api_bench, floors, queue_bench
from bench.common import (
    RESET_LABEL,
    WIRE,
    CpuWatch,
    HttpConnection,
    create_template,
    figure,
    fresh_database,
    median,
    percentile,
    print_table,
)
from tests.support.auth import create_user
from tests.support.simulator import start_simulator

# How much each measure does per round (sized so that one `make bench` takes a few minutes).
DRAIN_JOBS = 500
ENQUEUE_JOBS = 300
PICKUP_SAMPLES = 40
PICKUP_PAUSE = 0.02  # s idle before each pickup sample
GAP_JOBS = 150
# The stand-in's delay per token for the gap with requests that take longer than a hand-off (2 tokens:
# about 10 ms a request, far less than any real generation).
LONGER_REQUEST_TOKEN_DELAY = 0.005
HTTP_SECONDS = 3.0
BROKER_REQUESTS = 60
HISTORY = (1_000, 1_000_000)
HISTORY_SECONDS = 1.5  # per side and round: at least 5 samples, at most 100
DEPTH_HANDOFFS = 50  # hand-offs and status calls per side and round

# The statements of the claim-run-finish path (and the pool resets after them); the rest of what a
# drain sends is Socket.IO events (NOTIFYs) and the lock view they announce.
PATH = {"CLAIM", "RELEASE_LEASES", "FINISH", "NEXT_RUN_AT", "HEARTBEAT", "UPDATE_PROGRESS"}


def on_path(label: str) -> bool:
    return label in PATH or any(label == f"{RESET_LABEL} (after {name})" for name in PATH)


# ---- the table -----------------------------------------------------------------------------------


@dataclass
class Aim:
    text: str
    met: Callable[[float, float, float], bool]  # (aijobs, floor, ratio) medians → met?


def at_most(limit: float, text: str) -> Aim:
    return Aim(text, lambda value, _floor, _ratio: value <= limit)


def ratio_at_least(limit: float) -> Aim:
    return Aim(f"≥ {limit:g}x floor", lambda _value, _floor, ratio: ratio >= limit)


def ratio_at_most(limit: float, text: str) -> Aim:
    return Aim(text, lambda _value, _floor, ratio: ratio <= limit)


def over_floor_at_most(limit: float, text: str) -> Aim:
    return Aim(text, lambda value, floor, _ratio: value - floor <= limit)


@dataclass
class Row:
    measure: str
    unit: str
    floor_name: str
    aim: Aim | None = None
    aijobs: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)

    def add(self, aijobs: float, floor: float) -> None:
        self.aijobs.append(aijobs)
        self.floor.append(floor)


class Table:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def row(self, key: str, measure: str, unit: str, floor_name: str, aim: Aim | None = None) -> Row:
        if key not in self.rows:
            self.rows[key] = Row(measure, unit, floor_name, aim)
        return self.rows[key]

    def print(self) -> None:
        header = ("measure", "aijobs", "floor", "ratio", "aim", "met", "floor is")
        lines = []
        for row in self.rows.values():
            if not row.aijobs:
                continue
            value, floor = median(row.aijobs), median(row.floor)
            ratios = [a / f for a, f in zip(row.aijobs, row.floor, strict=True) if f > 0]
            ratio = median(ratios) if ratios else float("nan")
            shown = [float(figure(value).replace(",", "")), float(figure(floor).replace(",", "")), round(ratio, 2)]
            met = "" if row.aim is None else ("yes" if row.aim.met(*shown) else "NO")  # judged as printed
            lines.append(
                (
                    f"{row.measure} ({row.unit})",
                    figure(value),
                    figure(floor),
                    f"{ratio:.2f}x" if ratio == ratio else "-",
                    row.aim.text if row.aim else "",
                    met,
                    row.floor_name,
                )
            )
        print_table(header, lines, left=(0, 4, 5, 6))


def per_job(trips: Counter[str], jobs: int) -> dict[str, float]:
    return {label: count / jobs for label, count in trips.most_common()}


# ---- the run ---------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.table = Table()
        self.trips_1: list[dict[str, float]] = []  # per round: the 1-slot drain's round trips per job
        self.enqueue_trips: list[dict[str, float]] = []
        self.broker_parts: dict[str, list[float]] = {}  # p50 per round of each part of a broker request
        self.cleanup: list[Callable[[], Awaitable[None] | None]] = []

    async def both(self, round_number: int, floor: Callable[[], Awaitable[Any]], aijobs: Callable[[], Awaitable[Any]]):
        """Run the floor and aijobs, taking turns at going first; (aijobs result, floor result)."""
        if round_number % 2:
            return await aijobs(), await floor()
        floor_result = await floor()
        return await aijobs(), floor_result

    async def setup(self, tmp: Path) -> None:
        import pgserver

        started = time.perf_counter()
        WIRE.install()
        self.server = pgserver.get_server(tmp / "pgdata", cleanup_mode="delete")
        server_url = self.server.get_uri()
        await create_template(server_url)
        version = self.server.psql("SHOW server_version;").split("\n")[2].strip()
        load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
        print(
            f"aijobs benchmark: {self.args.rounds} interleaved rounds; PostgreSQL {version} (embedded, fsync on); "
            f"Python {platform.python_version()}; {os.cpu_count()} cores, load average {load} at start\n"
        )
        # The queue: drains, enqueue, pickup and the GPU idle gap, beside the bare loop's own table.
        url = await fresh_database(server_url, "bench_queue")
        self.engine = db.create_engine(url, pool_size=2)
        self.pool = await db.create_pool(url, max_size=4)
        self.bare = floors.BareQueue(url)
        await self.bare.open(10)
        self.sim = start_simulator(token_delay=0, tokens=2)
        self.cleanup.append(self.sim.stop)
        # Every worker names the one Ollama there is: they share the database's hosts table, whose default
        # host each start writes, and the prober would mark a host at a dead address down.
        sim_url = self.sim.base_url
        self.w1 = await queue_bench.start_worker(url, self.engine, pool="p1", slots=1, ollama_url=sim_url)
        self.w10 = await queue_bench.start_worker(url, self.engine, pool="p10", slots=10, ollama_url=sim_url)
        self.quiet = await queue_bench.start_worker(
            url, self.engine, pool="p1q", slots=1, events=False, ollama_url=sim_url
        )
        self.gen = await queue_bench.start_worker(
            url, self.engine, pool="gen", slots=1, ollama_url=self.sim.base_url, noop=False
        )
        for worker in (self.w1, self.w10, self.quiet, self.gen):
            self.cleanup.append(worker.stop)
        for worker in (self.w1, self.w10, self.quiet):  # pools filled, statements prepared
            await queue_bench.drain(worker, self.pool, 50)
        await queue_bench.bare_drain(self.bare, 10, 50)
        await queue_bench.generate_queue(self.gen, self.pool, 10)
        # The HTTP API without a processor (the queue stays as it is), the hello app, and aijobs with its
        # processor in front of the stand-in for the broker figure.
        api_url = await fresh_database(server_url, "bench_api")
        api_engine = db.create_engine(api_url, pool_size=2)
        async with _pool(api_url) as api_pool:
            self.api = await api_bench.prepare_api(api_engine, api_pool)
        self.api_url = api_url
        self.aijobs_api, self.aijobs_api_url = api_bench.start_aijobs(api_url, processor=False)
        self.cleanup.append(lambda: _stop(self.aijobs_api))
        self.hello = api_bench.Hello(api_url)
        self.cleanup.append(self.hello.stop)
        postmaster = int((Path(self.server.pgdata) / "postmaster.pid").read_text().split()[0])
        self.aijobs_watch = CpuWatch(self.aijobs_api.pid, postmaster)
        self.hello_watch = CpuWatch(self.hello.process.pid, postmaster)
        broker_url = await fresh_database(server_url, "bench_broker")
        broker_engine = db.create_engine(broker_url, pool_size=2)
        _user, token = await create_user(broker_engine, "broker")
        await api_engine.dispose()
        await broker_engine.dispose()
        self.broker, self.broker_url = api_bench.start_aijobs(broker_url, processor=True, ollama_url=self.sim.base_url)
        self.cleanup.append(lambda: _stop(self.broker))
        self.broker_request = api_bench.generate_request(token)
        self.direct_request = api_bench.generate_request(None)
        await api_bench.sequential(self.broker_url, self.broker_request, 10)
        # The hand-off and the status with a short and a deep queue.
        self.depth: dict[int, queue_bench.DeepQueue] = {}
        for queued, users, past_users in queue_bench.QUEUE_DEPTHS:
            depth_url = await fresh_database(server_url, f"bench_depth_{queued}")
            self.depth[queued] = await queue_bench.prepare_deep_queue(depth_url, queued, users, past_users)
        # Status and lock view with a short and a long history.
        self.history: dict[int, tuple[asyncpg.Pool, Any]] = {}
        for finished in HISTORY:
            history_url = await fresh_database(server_url, f"bench_history_{finished}")
            job = await queue_bench.prepare_history(history_url, finished)
            self.history[finished] = (await db.create_pool(history_url, max_size=2), job)
        print(f"(set up in {time.perf_counter() - started:.0f} s)\n", flush=True)

    async def round(self, n: int) -> None:
        started = time.perf_counter()
        await self.drains(n)
        await self.enqueue(n)
        await self.pickup(n)
        await self.gpu_gap(n)
        await self.http(n)
        await self.broker_overhead(n)
        await self.flat(n)
        await self.deep_queue(n)
        print(f"round {n + 1} of {self.args.rounds} done in {time.perf_counter() - started:.0f} s", flush=True)

    async def drains(self, n: int) -> None:
        t = self.table
        cpu_aim = at_most(0.5, "≤ 0.5 ms")
        for slots, worker in ((1, self.w1), (10, self.w10)):
            aijobs, floor = await self.both(
                n,
                lambda slots=slots: queue_bench.bare_drain(self.bare, slots, DRAIN_JOBS),
                lambda worker=worker: queue_bench.drain(worker, self.pool, DRAIN_JOBS),
            )
            t.row(f"drain{slots}", f"drain, {slots} slot{'s' * (slots > 1)}", "jobs/s", "bare loop").add(
                aijobs.rate, floor.rate
            )
            t.row(
                f"cpu{slots}", f"Python CPU per job, {slots} slot{'s' * (slots > 1)}", "ms", "bare loop", cpu_aim
            ).add(aijobs.cpu_per_job * 1000, floor.cpu_per_job * 1000)
            if slots == 1:
                self.trips_1.append(per_job(aijobs.trips, DRAIN_JOBS))
                path = sum(aijobs.steady_per_job(label) for label in aijobs.steady if on_path(label))
                t.row("trips", "round trips per job, claim-run-finish", "1 slot", "bare loop", at_most(2, "≤ 2")).add(
                    path, floor.steady_per_job()
                )
                t.row("trips_all", "round trips per job, all incl. events", "1 slot", "bare loop").add(
                    aijobs.steady_per_job(), floor.steady_per_job()
                )
        # The same 1-slot drain with Socket.IO events off: where the CPU per job goes.
        quiet, floor = await self.both(
            n,
            lambda: queue_bench.bare_drain(self.bare, 1, DRAIN_JOBS),
            lambda: queue_bench.drain(self.quiet, self.pool, DRAIN_JOBS),
        )
        t.row("drain1q", "drain, 1 slot, events off (info)", "jobs/s", "bare loop").add(quiet.rate, floor.rate)
        t.row("cpu1q", "Python CPU per job, events off (info)", "ms", "bare loop").add(
            quiet.cpu_per_job * 1000, floor.cpu_per_job * 1000
        )

    async def enqueue(self, n: int) -> None:
        async def floor() -> float:
            started = time.perf_counter()
            for _ in range(ENQUEUE_JOBS):
                await self.bare.enqueue()
            return ENQUEUE_JOBS / (time.perf_counter() - started)

        async def aijobs() -> float:
            rate, trips = await queue_bench.enqueue(self.pool, "enqueue", ENQUEUE_JOBS)
            self.enqueue_trips.append(per_job(trips, ENQUEUE_JOBS))
            return rate

        rate, floor_rate = await self.both(n, floor, aijobs)
        self.table.row("enqueue", "enqueue, one by one", "jobs/s", "bare INSERT").add(rate, floor_rate)

    async def pickup(self, n: int) -> None:
        aijobs, floor = await self.both(
            n,
            lambda: self.bare.pickup(PICKUP_SAMPLES, PICKUP_PAUSE),
            lambda: queue_bench.pickup(self.w1, self.pool, PICKUP_SAMPLES, PICKUP_PAUSE),
        )
        for p in (50, 95):
            self.table.row(f"pickup{p}", f"pickup p{p}", "ms", "bare loop, LISTEN").add(
                percentile(aijobs, p) * 1000, percentile(floor, p) * 1000
            )

    async def gpu_gap(self, n: int) -> None:
        async def aijobs() -> list[float]:
            self.sim.reset()
            await queue_bench.generate_queue(self.gen, self.pool, GAP_JOBS)
            return queue_bench.idle_gaps(self.sim)

        async def floor() -> list[float]:
            self.sim.reset()
            bodies = [{**queue_bench.generate_request(i), "stream": True} for i in range(GAP_JOBS)]
            await floors.back_to_back(self.sim.base_url, bodies)
            return queue_bench.idle_gaps(self.sim)

        gaps, floor_gaps = await self.both(n, floor, aijobs)
        aims = {50: over_floor_at_most(1, "≤ floor + 1 ms"), 95: None}
        for p, aim in aims.items():
            self.table.row(f"gap{p}", f"GPU idle gap p{p}", "ms", "httpx back to back", aim).add(
                percentile(gaps, p) * 1000, percentile(floor_gaps, p) * 1000
            )
        # The same with requests that outlast a hand-off (FINISH, about 3 ms). With near-instant ones the
        # early start of each next job waits for the previous hand-off's answer (it names the job to
        # start), so the gap above is the hand-off's time less the request's.
        self.sim.configure(token_delay=LONGER_REQUEST_TOKEN_DELAY)
        try:
            gaps, floor_gaps = await self.both(n, floor, aijobs)
        finally:
            self.sim.configure(token_delay=0)
        self.table.row("gap50long", "GPU idle gap p50, 10 ms requests (info)", "ms", "httpx back to back").add(
            percentile(gaps, 50) * 1000, percentile(floor_gaps, 50) * 1000
        )
        # What reserving the next job ahead saves: the same processor and queue without it.
        await queue_bench.set_reserve_ahead(self.gen, False)
        try:
            plain = await aijobs()
        finally:
            await queue_bench.set_reserve_ahead(self.gen, True)
        self.table.row("gap50plain", "GPU idle gap p50, RESERVE_AHEAD=false (info)", "ms", "httpx back to back").add(
            percentile(plain, 50) * 1000, percentile(floor_gaps, 50) * 1000
        )

    async def http(self, n: int) -> None:
        t, api, seconds = self.table, self.api, HTTP_SECONDS
        aijobs, hello = self.aijobs_api_url, self.hello.base_url
        hello_get = [HttpConnection.build("GET", "/hello")]
        hello_post = [HttpConnection.build("POST", "/hello", api_bench.SUBMIT_BODY)]

        async def submit() -> api_bench.Load:
            try:
                return await api_bench.measure(aijobs, api.submit_requests(), seconds, 202, self.aijobs_watch)
            finally:
                async with _pool(self.api_url) as pool:
                    await pool.execute(api_bench.CANCEL_SUBMITTED)

        status, query = await self.both(
            n,
            lambda: api_bench.measure(hello, api.hello_query_requests(), seconds, 200, self.hello_watch),
            lambda: api_bench.measure(aijobs, api.status_requests(), seconds, 200, self.aijobs_watch),
        )
        plain = await api_bench.measure(hello, hello_get, seconds, 200, self.hello_watch)
        t.row("status", "status, 8 clients", "req/s", "hello + 1 query", ratio_at_least(0.5)).add(
            status.rate, query.rate
        )
        t.row("status50", "status p50, 8 clients", "ms", "hello + 1 query").add(status.p50 * 1000, query.p50 * 1000)
        t.row("status_cpu", "status: server CPU per request", "ms", "hello + 1 query").add(
            status.server_cpu * 1000, query.server_cpu * 1000
        )
        t.row("status_pg", "status: PostgreSQL CPU per request", "ms", "hello + 1 query").add(
            status.postgres_cpu * 1000, query.postgres_cpu * 1000
        )
        t.row("status_hello", "status, 8 clients (info)", "req/s", "hello GET").add(status.rate, plain.rate)
        posted, post = await self.both(
            n, lambda: api_bench.measure(hello, hello_post, seconds, 202, self.hello_watch), submit
        )
        t.row("submit", "submit, 8 clients", "req/s", "hello POST", ratio_at_least(0.3)).add(posted.rate, post.rate)
        t.row("submit50", "submit p50, 8 clients", "ms", "hello POST").add(posted.p50 * 1000, post.p50 * 1000)
        t.row("submit_cpu", "submit: server CPU per request", "ms", "hello POST").add(
            posted.server_cpu * 1000, post.server_cpu * 1000
        )
        t.row("submit_pg", "submit: PostgreSQL CPU per request", "ms", "hello + 1 query").add(
            posted.postgres_cpu * 1000, query.postgres_cpu * 1000
        )

    async def broker_overhead(self, n: int) -> None:
        async def through(base_url: str, request: bytes) -> tuple[list[float], dict[str, list[float]]]:
            self.sim.reset()
            spans = await api_bench.sequential(base_url, request, BROKER_REQUESTS)
            return api_bench.latencies(spans), api_bench.through_ollama(self.sim, spans)

        (aijobs, parts), (direct, _) = await self.both(
            n,
            lambda: through(self.sim.base_url, self.direct_request),
            lambda: through(self.broker_url, self.broker_request),
        )
        self.table.row(
            "broker", "/api/generate p50, 1 client", "ms", "straight at Ollama", over_floor_at_most(5, "≤ floor + 5 ms")
        ).add(percentile(aijobs, 50) * 1000, percentile(direct, 50) * 1000)
        for name, values in parts.items():
            self.broker_parts.setdefault(name, []).append(percentile(values, 50) * 1000)

    async def flat(self, n: int) -> None:
        async def timed(finished: int) -> tuple[float, float]:
            pool, job = self.history[finished]
            statuses, locks = await queue_bench.status_and_lock(pool, job, HISTORY_SECONDS)
            return percentile(statuses, 50) * 1000, percentile(locks, 50) * 1000

        (status_1m, lock_1m), (status_1k, lock_1k) = await self.both(
            n, lambda: timed(HISTORY[0]), lambda: timed(HISTORY[1])
        )
        aim = ratio_at_most(1.5, "flat: ≤ 1.5x")
        self.table.row("flat_status", "status p50 at 1M finished jobs", "ms", "the same at 1k", aim).add(
            status_1m, status_1k
        )
        self.table.row("flat_lock", "lock view p50 at 1M finished jobs", "ms", "the same at 1k", aim).add(
            lock_1m, lock_1k
        )

    async def deep_queue(self, n: int) -> None:
        (short, users, _), (deep, deep_users, past_users) = queue_bench.QUEUE_DEPTHS

        async def timed(queued: int) -> tuple[float, float]:
            queue = self.depth[queued]
            handoffs = await queue.handoffs(DEPTH_HANDOFFS)
            return percentile(handoffs, 50) * 1000, percentile(await queue.statuses(DEPTH_HANDOFFS), 50) * 1000

        (handoff_deep, status_deep), (handoff_short, status_short) = await self.both(
            n, lambda: timed(short), lambda: timed(deep)
        )
        aim = ratio_at_most(1.5, "flat: ≤ 1.5x")
        floor = f"the same at {short:,} ({users} users)"
        deep_label = f"{deep:,} queued ({deep_users} users, {past_users:,} past)"
        self.table.row("deep_handoff", f"hand-off (FINISH) p50 at {deep_label}", "ms", floor, aim).add(
            handoff_deep, handoff_short
        )
        self.table.row("deep_status", f"status p50 at {deep_label}", "ms", floor, aim).add(status_deep, status_short)

    def report(self) -> None:
        print()
        self.table.print()
        print(
            "\nratio: median over the rounds of aijobs / floor; aijobs and floor: each side's median; met: judged on"
            " the figures as printed. Drains: "
            f"{DRAIN_JOBS} no-op jobs; GPU gap: {GAP_JOBS} generate jobs; HTTP: {HTTP_SECONDS:g} s per figure."
        )
        labels = sorted({label for trips in self.trips_1 for label in trips}, key=lambda label: not on_path(label))
        print(
            "\nRound trips per job in the 1-slot drain, by statement (median over the rounds; * claim-run-finish;"
            "\nthe table counts them from the 10th job's start to the last one's, this whole drains):"
        )
        for label in labels:
            value = median([trips.get(label, 0.0) for trips in self.trips_1])
            if value >= 0.005:
                print(f"  {'*' if on_path(label) else ' '} {value:5.2f}  {label}")
        print("Round trips per enqueue (store.enqueue on a pool, as the API submits):")
        for label in sorted({label for trips in self.enqueue_trips for label in trips}):
            value = median([trips.get(label, 0.0) for trips in self.enqueue_trips])
            if value >= 0.005:
                print(f"    {value:5.2f}  {label}")
        parts = ", ".join(f"{name} {median(values):.2f} ms" for name, values in self.broker_parts.items())
        print(f"/api/generate through aijobs, p50 of each part (stand-in's log): {parts}")

    async def statements(self) -> None:
        """Statements per HTTP request, from the server's log (log_statement = all, on only now)."""
        admin = await db.connect_raw(self.server.get_uri())
        log = Path(self.server.log)

        async def logged(base_url: str, request: bytes, count: int, expect: int) -> tuple[list[str], int]:
            await asyncio.sleep(0.3)  # whatever the previous requests set off has been written
            offset = log_size(log)
            await api_bench.sequential(base_url, request, count, expect)
            await asyncio.sleep(0.3)
            database = "bench_broker" if base_url == self.broker_url else "bench_api"
            return statement_labels(read_from(log, offset), database), count

        try:
            for setting in ("log_statement = 'all'", "log_line_prefix = '@%d '"):
                await admin.execute(f"ALTER SYSTEM SET {setting}")
            await admin.execute("SELECT pg_reload_conf()")
            await asyncio.sleep(0.5)
            api, count = self.api, 40
            runs = {
                "GET status": await logged(self.aijobs_api_url, api.status_requests()[0], count, 200),
                "GET hello + 1 query": await logged(self.hello.base_url, api.hello_query_requests()[0], count, 200),
                "POST submit": await logged(self.aijobs_api_url, api.submit_requests()[0], count, 202),
                "POST /api/generate": await logged(self.broker_url, self.broker_request, 20, 200),
            }
        finally:
            for setting in ("log_statement", "log_line_prefix"):
                await admin.execute(f"ALTER SYSTEM RESET {setting}")
            await admin.execute("SELECT pg_reload_conf()")
            await admin.close()
            async with _pool(self.api_url) as pool:
                await pool.execute(api_bench.CANCEL_SUBMITTED)
        print("\nStatements the server ran per HTTP request (its log, 1 client; every one a round trip):")
        for name, (labels, count) in runs.items():
            found = Counter(labels)
            print(f"  {name}: {sum(found.values()) / count:.2f}")
            for label, seen in found.most_common():
                print(f"    {seen / count:5.2f}  {label}")

    async def profile(self) -> None:
        """cProfile of one more 1-slot drain: where the processor's Python time goes, by package."""
        profiler = cProfile.Profile()
        profiler.enable()
        result = await queue_bench.drain(self.w1, self.pool, DRAIN_JOBS)
        profiler.disable()
        stats = pstats.Stats(profiler)
        groups: Counter[str] = Counter()
        for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            groups[package(filename, name)] += tottime
        total = sum(seconds for group, seconds in groups.items() if group != "waiting (epoll)")
        print(f"\nProfile of a 1-slot drain under cProfile ({result.cpu_per_job * 1000:.2f} ms CPU/job with it on):")
        print("  Python time by package, ms per job (own time of its functions, waiting in epoll left out):")
        for group, seconds in groups.most_common():
            if group != "waiting (epoll)" and seconds / total >= 0.01:
                print(f"    {seconds / DRAIN_JOBS * 1000:6.3f}  {seconds / total:4.0%}  {group}")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(r"app/|socketio|asyncpg/pool", 25)
        print("  Cumulative time, the engine's and Socket.IO's functions:")
        for line in out.getvalue().splitlines():
            if line.strip() and ("(" in line or "ncalls" in line):
                print("   " + line)

    async def close(self) -> None:
        for step in reversed(self.cleanup):
            result = step()
            if asyncio.iscoroutine(result):
                await result
        for pool, _job in getattr(self, "history", {}).values():
            await pool.close()
        for queue in getattr(self, "depth", {}).values():
            await queue.pool.close()
            await queue.api_pool.close()
        if hasattr(self, "bare"):
            await self.bare.close()
        if hasattr(self, "pool"):
            await self.pool.close()
            await self.engine.dispose()
        if hasattr(self, "server"):
            self.server.cleanup()


LOGGED = re.compile(r"^@(\w+) LOG:  (?:statement|execute [^:]*): ", re.MULTILINE)


def log_size(path: Path) -> int:
    return path.stat().st_size


def read_from(path: Path, offset: int) -> str:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read().decode(errors="replace")


def statement_labels(text: str, database: str) -> list[str]:
    """The statements one database ran in a piece of the server's log, each named (`RoundTrips.label`)."""
    found = []
    for entry in re.split(r"^(?=@\w* \w+:  )", text, flags=re.MULTILINE):
        match = LOGGED.match(entry)
        if match and match.group(1) == database:
            # The log ends an entry with a line end and starts each further line of it with a tab.
            label = WIRE.label(entry[match.end() :].removesuffix("\n").replace("\n\t", "\n"))
            found.append(label.replace(RESET_LABEL, "asyncpg pool reset"))
    return found


def package(filename: str, name: str) -> str:
    if "select.epoll" in name:
        return "waiting (epoll)"
    if filename == "~":
        return "builtins (socket send/recv, …)"
    for marker, name in (
        ("/app/services/realtime/", "app.services.realtime (Socket.IO events)"),
        ("/socketio/", "socketio (packets for the events)"),
        ("/app/services/queue/", "app.services.queue (processor, store)"),
        ("/app/", "app (other)"),
        ("/asyncpg/", "asyncpg"),
        ("/asyncio/", "asyncio"),
        ("selectors.py", "asyncio"),
        ("/json/", "json"),
        ("/pydantic", "pydantic"),
        ("/bench/", "bench itself"),
    ):
        if marker in filename:
            return name
    return "other"


class _pool:
    """`async with _pool(url) as pool`: a short-lived asyncpg pool."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def __aenter__(self) -> asyncpg.Pool:
        self.pool = await db.create_pool(self.url, max_size=1)
        return self.pool

    async def __aexit__(self, *_exc: object) -> None:
        await self.pool.close()


def _stop(process: Any) -> None:
    process.stop()


async def main(args: argparse.Namespace) -> None:
    bench = Bench(args)
    with tempfile.TemporaryDirectory(prefix="aijobs-bench-") as tmp:
        try:
            await bench.setup(Path(tmp))
            for n in range(args.rounds):
                await bench.round(n)
            bench.report()
            await bench.statements()
            if args.profile:
                await bench.profile()
        finally:
            await bench.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (the table shows medians)")
    parser.add_argument("--profile", action="store_true", help="also profile a 1-slot drain (cProfile)")
    asyncio.run(main(parser.parse_args()))
