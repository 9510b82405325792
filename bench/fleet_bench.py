"""`make bench-fleet`: the fleet's two schedulers on one seeded trace (issue 12, "Several GPU hosts").

Two GPU hosts, each an Ollama stand-in (its own process, one slot) with memory for one model at a time:
a job for another model evicts the loaded one and waits for its load. Four models, four users (one
submits 60 % of the jobs; each asks for a model of their own 80 % of the time, so the models' shares come
out near Zipf's 48/24/16/12 %), short chats and long reports, Poisson arrivals at --load x the fleet's
capacity (what two hosts finish if no job ever waited for a load) plus one burst of the heavy user's. The same
trace runs twice, each time on a fresh database and fresh stand-ins with one `aijobs worker` process
driving both hosts: SCHEDULER=fifo (model-blind), then SCHEDULER=placement. Jobs are queued with
`store.enqueue` at their arrival times; the figures come from the stand-ins' counters and from ai_jobs.

Everything is scaled down about 5x from real life (a short chat ~1 s instead of ~5 s, a load ~5 s
instead of ~25 s), and the scheduler's times with it: SCHEDULER_MAX_BYPASS_SECONDS 25 instead of 120,
HOST_PROBE_INTERVAL 1 instead of 3, JOB_PROCESSING_INTERVAL (the safety-net poll) 1 instead of 5.

    .venv/bin/python bench/fleet_bench.py [--seed 12] [--load 0.8] [--seconds 60] [--bypass 25] [--timeline]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for app, bench and tests.support

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # platformdirs, through pgserver

import asyncpg

from app import db
from app.services.queue import store
from bench.common import create_template, figure, fresh_database, percentile, print_table
from tests.support.processes import ServiceProcess, start_worker
from tests.support.simulator import Simulator, start_simulator

QUOTA = 1_000_000_000  # no queue quota in the way

# ---- the fleet -----------------------------------------------------------------------------------------

HOSTS = ("box-a", "box-b")  # one slot each
VRAM = "6GiB"  # any two of the models below need more: a host holds one model at a time
# model: (memory it takes when loaded, load time in ms) — a load is ~5 short chats
MODELS = {
    "llama3.2:latest": ("4GiB", 5000),
    "qwen2.5:0.5b": ("3.2GiB", 4000),
    "gemma3:4b": ("5.5GiB", 6500),
    "tinyllama:latest": ("3.5GiB", 4000),
}
TOKEN_DELAY = 0.02  # s per token: 50 tokens/s
MAX_TOKENS = 1000  # the stand-in's answer length; each job cuts it with options.num_predict

# ---- the trace -----------------------------------------------------------------------------------------

CHAT_TOKENS = (30, 70)  # a short chat: 0.6-1.4 s warm
REPORT_TOKENS = (180, 320)  # a long report: 3.6-6.4 s warm
REPORT_SHARE = 0.25
# user: (share of the jobs, the model they use most); each user asks for their own model OWN_MODEL of the
# time and for any of the four otherwise
USERS = {
    "alice": (0.60, "llama3.2:latest"),
    "bob": (0.40 / 3, "qwen2.5:0.5b"),
    "carol": (0.40 / 3, "gemma3:4b"),
    "dave": (0.40 / 3, "tinyllama:latest"),
}
HEAVY = "alice"
OWN_MODEL = 0.8
BURST_AT = 25.0  # s into the trace: the heavy user queues BURST_JOBS short chats within BURST_SPREAD s
BURST_JOBS = 12
BURST_SPREAD = 2.0

# ---- the scheduler's settings, scaled with the trace ---------------------------------------------------

PROBE_INTERVAL = 1.0
POLL_INTERVAL = 1.0
DONE_WITHIN = 600.0  # s after the last arrival: the run is declared stuck


@dataclass(frozen=True)
class Arrival:
    at: float  # s after the trace's start
    user: str
    kind: str  # chat | report
    model: str
    tokens: int

    @property
    def warm_seconds(self) -> float:
        return self.tokens * TOKEN_DELAY


def mean_warm_seconds() -> float:
    chat, report = statistics.mean(CHAT_TOKENS), statistics.mean(REPORT_TOKENS)
    return ((1 - REPORT_SHARE) * chat + REPORT_SHARE * report) * TOKEN_DELAY


def make_trace(seed: int, load: float, seconds: float) -> list[Arrival]:
    """Exact counts in a random order: the Poisson jobs (their number at `load` x capacity over `seconds`,
    their times uniform: a Poisson process given its count), each user's share of all the jobs, the
    reports' share of the Poisson jobs; each job's model and length drawn from the seeded generator."""
    rng = random.Random(seed)
    count = round(load * len(HOSTS) / mean_warm_seconds() * seconds)
    total = count + BURST_JOBS
    shares = {user: round(share * total) for user, (share, _model) in USERS.items()}
    shares[HEAVY] = total - BURST_JOBS - sum(n for user, n in shares.items() if user != HEAVY)
    users = [user for user, n in shares.items() for _ in range(n)]
    reports = round(REPORT_SHARE * count)
    kinds = ["report"] * reports + ["chat"] * (count - reports)
    rng.shuffle(users)
    rng.shuffle(kinds)

    def job(at: float, user: str, kind: str) -> Arrival:
        model = USERS[user][1] if rng.random() < OWN_MODEL else rng.choice(list(MODELS))
        return Arrival(at, user, kind, model, rng.randint(*(REPORT_TOKENS if kind == "report" else CHAT_TOKENS)))

    times = sorted(rng.uniform(0, seconds) for _ in range(count))
    trace = [job(at, user, kind) for at, user, kind in zip(times, users, kinds, strict=True)]
    trace += [job(BURST_AT + n * BURST_SPREAD / BURST_JOBS, HEAVY, "chat") for n in range(BURST_JOBS)]
    return sorted(trace, key=lambda arrival: arrival.at)


def new_job(n: int, arrival: Arrival) -> store.NewJob:
    options = {"num_predict": arrival.tokens}
    if arrival.kind == "chat":
        request = {"model": arrival.model, "messages": [{"role": "user", "content": f"chat {n}"}], "options": options}
    else:
        request = {"model": arrival.model, "prompt": f"report {n}: the quarter in detail", "options": options}
    return store.NewJob(
        user_id=arrival.user,
        username=arrival.user,
        job_type="chat" if arrival.kind == "chat" else "generate",
        request_data=request,
        model=arrival.model,
    )


# ---- one run -------------------------------------------------------------------------------------------


@dataclass
class Job:
    label: str  # "chat 12", "report 7": its prompt's first words, as the stand-in logged it
    user: str
    model: str
    host: str
    created: float  # s since the trace's first job was queued
    started: float
    finished: float
    load_seconds: float = 0.0  # what the host spent loading its model for it (stand-in's log)

    @property
    def wait(self) -> float:
        return self.started - self.created

    @property
    def run(self) -> float:
        return self.finished - self.started

    @property
    def loaded(self) -> bool:
        return self.load_seconds > 0.5  # as aijobs tells a load from a warm start (sql.LOADED_AFTER)

    @property
    def slowdown(self) -> float:
        return (self.wait + self.run) / self.run


@dataclass
class Result:
    scheduler: str
    jobs: list[Job]
    stats: dict[str, dict[str, Any]]  # by host: the stand-in's counters
    seconds: float  # wall clock of the run (queueing the trace until the last job finished)
    bypass: float  # SCHEDULER_MAX_BYPASS_SECONDS
    preloads: list[Job] = field(default_factory=list)  # placement's look-ahead loads (model.load jobs) that ran

    @property
    def loads(self) -> int:
        return sum(stats["loads"] for stats in self.stats.values())

    @property
    def loading_share(self) -> float:
        busy = sum(stats["busy_seconds"] for stats in self.stats.values())
        return sum(stats["load_seconds"] for stats in self.stats.values()) / busy

    @property
    def makespan(self) -> float:
        return max(job.finished for job in self.jobs) - min(job.created for job in self.jobs)

    @property
    def throughput(self) -> float:  # jobs per minute
        return len(self.jobs) / self.makespan * 60

    def waits(self, users: list[str] | None = None) -> list[float]:
        return [job.wait for job in self.jobs if users is None or job.user in users]

    def mean_slowdown(self, user: str) -> float:
        return statistics.mean(job.slowdown for job in self.jobs if job.user == user)

    @property
    def fairness(self) -> float:
        """Jain's index over the users' mean slowdowns: 1 when all are equal, 1/n when one takes all."""
        values = [self.mean_slowdown(user) for user in USERS]
        return sum(values) ** 2 / (len(values) * sum(value * value for value in values))

    @property
    def longest(self) -> Job:
        return max(self.jobs, key=lambda job: job.wait)

    def on(self, host: str) -> list[Job]:
        return sorted((job for job in self.jobs if job.host == host), key=lambda job: job.started)

    @property
    def aged_starts(self) -> int:
        """Jobs that started only after waiting past the aging bound."""
        return sum(job.wait > self.bypass for job in self.jobs)

    def passed_warm(self) -> list[tuple[Job, Job, Job]]:
        """(job before, load, passed) per load that passed over a queued job warm on that host (the model
        of the job it had just run, so still loaded) which had waited past the bound if the loaded one had:
        placement's order (aged, then warm) would have taken the warm one. fifo does not look."""
        found = []
        for host in HOSTS:
            ran = self.on(host)
            for before, job in itertools.pairwise(ran):
                at, aged = job.started, job.wait > self.bypass
                warm = [
                    other
                    for other in self.jobs
                    if other.model == before.model and other.created <= at < other.started
                    and (at - other.created > self.bypass) >= aged
                ]  # fmt: skip
                if job.loaded and warm:
                    found.append((before, job, min(warm, key=lambda other: other.created)))
        return found

    def held_by_other(self, job: Job) -> str | None:
        """The model the other host had (or was loading) when `job` started."""
        everything = self.jobs + self.preloads
        others = [other for other in everything if other.host != job.host and other.started <= job.started]
        return max(others, key=lambda other: other.started).model if others else None

    def smaller_batches(self) -> list[tuple[Job, int, str, int]]:
        """(load, jobs of its model queued then, other model, its jobs queued then) per load made for fewer
        queued jobs than another model had waiting, one the other host did not hold either: a load serves
        every queued job of its model, so the smaller batch costs a load per fewer jobs."""
        found = []
        for job in sorted(self.jobs, key=lambda job: job.started):
            if not job.loaded:
                continue
            queued = Counter(
                other.model for other in self.jobs if other.created <= job.started < other.started or other is job
            )
            if self.held_by_other(job) != job.model:
                queued.pop(self.held_by_other(job), None)
            if queued:
                model, most = queued.most_common(1)[0]
                if most > queued[job.model]:
                    found.append((job, queued[job.model], model, most))
        return found

    def duplicate_loads(self) -> int:
        """Loads of a model that another host was loading or had loaded at that moment."""
        return sum(job.loaded and self.held_by_other(job) == job.model for job in self.jobs)

    def idle_while_queued(self, host: str, step: float = 0.05) -> tuple[float, float]:
        """Seconds the host ran nothing (no job, no look-ahead load) while some job was queued, and the
        longest such stretch."""
        busy = [(job.started, job.finished) for job in self.jobs + self.preloads if job.host == host]
        queued = [(job.created, job.started) for job in self.jobs]
        total = stretch = longest = 0.0
        at = 0.0
        while at < self.makespan:
            waiting = any(start <= at < end for start, end in queued)
            if waiting and not any(start <= at < end for start, end in busy):
                total, stretch = total + step, stretch + step
                longest = max(longest, stretch)
            else:
                stretch = 0.0
            at += step
        return total, longest


def worker_env(url: str, sims: list[Simulator], scheduler: str, bypass: float) -> dict[str, str]:
    """What an `aijobs worker` gets (as tests/conftest.py service_env, with the fleet's settings)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAX_", "JOB_", "LEASE_"))}
    env.update(
        DATABASE_URL=url,
        OLLAMA_HOSTS="; ".join(f"{name} {sim.base_url} slots=1" for name, sim in zip(HOSTS, sims, strict=True)),
        SCHEDULER=scheduler,
        SCHEDULER_MAX_BYPASS_SECONDS=str(bypass),
        HOST_PROBE_INTERVAL=str(PROBE_INTERVAL),
        JOB_PROCESSING_INTERVAL=str(POLL_INTERVAL),
        LOG_LEVEL="WARNING",
    )
    return env


JOBS = """
SELECT split_part(coalesce(request_data ->> 'prompt', request_data -> 'messages' -> 0 ->> 'content'), ':', 1) AS label,
       job_type, user_id, model, host, status, created_at, started_at, finished_at
FROM ai_jobs ORDER BY created_at
"""


async def run_scheduler(server_url: str, scheduler: str, trace: list[Arrival], bypass: float) -> Result:
    url = await fresh_database(server_url, f"bench_fleet_{scheduler}")
    sims = [
        start_simulator(
            token_delay=TOKEN_DELAY,
            tokens=MAX_TOKENS,
            vram=VRAM,
            model_sizes={model: size for model, (size, _ms) in MODELS.items()},
            model_load_ms={model: ms for model, (_size, ms) in MODELS.items()},
        )
        for _ in HOSTS
    ]
    worker: ServiceProcess | None = None
    pool = await db.create_pool(url, max_size=2)
    try:
        worker = await asyncio.to_thread(start_worker, worker_env(url, sims, scheduler, bypass))
        await _probed(pool)
        started = time.perf_counter()
        await _replay(pool, trace)
        await _finished(pool, worker)
        seconds = time.perf_counter() - started
        rows = await pool.fetch(JOBS)
        stats = {name: sim.stats() for name, sim in zip(HOSTS, sims, strict=True)}
    finally:
        if worker is not None:
            worker.stop()
        for sim in sims:
            sim.stop()
        await pool.close()
    preloads = [row for row in rows if row["job_type"] == "model.load"]  # the look-ahead's (placement only)
    rows = [row for row in rows if row["job_type"] != "model.load"]
    bad = [row for row in rows if row["status"] != "completed"]
    if bad:
        raise RuntimeError(f"{scheduler}: {len(bad)} job(s) did not complete: {[dict(row) for row in bad[:3]]}")
    zero = min(row["created_at"] for row in rows)

    def since(moment: datetime) -> float:
        return (moment - zero).total_seconds()

    loads = {
        entry["prompt"].split(":")[0]: entry["load_seconds"]
        for stats_ in stats.values()
        for entry in stats_["log"]
        if entry["prompt"] and entry["outcome"] == "done"
    }

    def job(row: asyncpg.Record, load_seconds: float) -> Job:
        times = (since(row[name]) for name in ("created_at", "started_at", "finished_at"))
        return Job(row["label"] or "look-ahead", row["user_id"], row["model"], row["host"], *times, load_seconds)

    jobs = [job(row, loads.get(row["label"], 0.0)) for row in rows]
    ran = [row for row in preloads if row["status"] == "completed"]
    preloaded = [job(row, (row["finished_at"] - row["started_at"]).total_seconds()) for row in ran]
    return Result(scheduler, jobs, stats, seconds, bypass, preloaded)


async def _probed(pool: asyncpg.Pool) -> None:
    """Both hosts seeded from OLLAMA_HOSTS and probed once (up, nothing loaded)."""
    deadline = time.monotonic() + 30
    query = "SELECT count(*) FROM hosts WHERE name = ANY($1::text[]) AND probed_at IS NOT NULL AND reachable"
    while await pool.fetchval(query, list(HOSTS)) < len(HOSTS):
        if time.monotonic() > deadline:
            raise TimeoutError("the worker's prober did not probe both hosts within 30 s")
        await asyncio.sleep(0.1)


async def _replay(pool: asyncpg.Pool, trace: list[Arrival]) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n, arrival in enumerate(trace):
        delay = start + arrival.at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await store.enqueue(pool, new_job(n, arrival), quota=QUOTA)


async def _finished(pool: asyncpg.Pool, worker: ServiceProcess) -> None:
    deadline = time.monotonic() + DONE_WITHIN
    query = "SELECT count(*) FROM ai_jobs WHERE status IN ('queued', 'running')"
    while await pool.fetchval(query):
        if worker.process.poll() is not None:
            raise RuntimeError(f"the worker exited ({worker.process.returncode}):\n{worker.output()[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs still queued or running {DONE_WITHIN:g} s after the trace ended")
        await asyncio.sleep(0.2)


# ---- the report ----------------------------------------------------------------------------------------


def print_trace(trace: list[Arrival], args: argparse.Namespace) -> None:
    span = max(arrival.at for arrival in trace)
    work = sum(arrival.warm_seconds for arrival in trace)
    users = Counter(arrival.user for arrival in trace)
    models = Counter(arrival.model for arrival in trace)
    kinds = Counter(arrival.kind for arrival in trace)
    print(
        f"Trace (seed {args.seed}): {len(trace)} jobs over {span:.0f} s — Poisson arrivals at {args.load:.0%} of the"
        f" fleet's capacity ({len(HOSTS)} hosts / {mean_warm_seconds():.2f} s mean warm job = "
        f"{len(HOSTS) / mean_warm_seconds() * 60:.0f} jobs/min) for {args.seconds:g} s, plus a burst of {BURST_JOBS}"
        f" short chats of {HEAVY}'s at {BURST_AT:g} s; warm work {work:.0f} s = {work / (len(HOSTS) * span):.0%} of"
        f" {len(HOSTS)} hosts x {span:.0f} s"
    )
    print("  users:  " + ", ".join(f"{user} {count} ({count / len(trace):.0%})" for user, count in users.most_common()))
    print("  models: " + ", ".join(f"{model} {count}" for model, count in models.most_common()))
    print(
        f"  jobs:   {kinds['chat']} short chats ({CHAT_TOKENS[0]}-{CHAT_TOKENS[1]} tokens, "
        f"{CHAT_TOKENS[0] * TOKEN_DELAY:g}-{CHAT_TOKENS[1] * TOKEN_DELAY:g} s warm), {kinds['report']} reports "
        f"({REPORT_TOKENS[0]}-{REPORT_TOKENS[1]} tokens, {REPORT_TOKENS[0] * TOKEN_DELAY:g}-"
        f"{REPORT_TOKENS[1] * TOKEN_DELAY:g} s)"
    )
    loads = ", ".join(f"{model} {ms / 1000:g} s" for model, (_size, ms) in MODELS.items())
    print(f"  hosts:  {len(HOSTS)} x 1 slot, {VRAM} each (one model at a time); loads: {loads}")
    print(
        f"  scheduler: SCHEDULER_MAX_BYPASS_SECONDS={args.bypass:g}, HOST_PROBE_INTERVAL={PROBE_INTERVAL:g}, "
        f"JOB_PROCESSING_INTERVAL={POLL_INTERVAL:g}\n"
    )


def whole(value: float) -> str:
    return f"{value:.0f}"


def percent(value: float) -> str:
    return f"{value:.1%}"


def seconds(value: float) -> str:
    return f"{value:.1f} s"


@dataclass
class Row:
    measure: str
    of: Callable[[Result], float]
    shown: Callable[[float], str] = figure
    aim: str = ""
    met: Callable[[float, float, float], bool] | None = None  # (fifo, placement, ratio) as printed → met?


def report(fifo: Result, placement: Result, bypass: float) -> None:
    light = [user for user in USERS if user != HEAVY]

    def p95(users: list[str]) -> Callable[[Result], float]:
        return lambda result: percentile(result.waits(users), 95)

    rows = [
        Row("model loads", lambda r: r.loads, whole, "≤ ⅓ of fifo's", lambda _f, _p, ratio: ratio <= 1 / 3),
        Row("GPU time loading", lambda r: r.loading_share, percent, "≤ 10 %", lambda _f, p, _r: p <= 0.10),
        Row("throughput (jobs/min)", lambda r: r.throughput, figure, "≥ 1.5x fifo", lambda _f, _p, ratio: ratio >= 1.5),
        Row("makespan", lambda r: r.makespan, seconds),
        Row("wait p50, all", lambda r: percentile(r.waits(), 50), seconds),
        Row("wait p95, all", lambda r: percentile(r.waits(), 95), seconds),
        Row(
            "longest wait",
            lambda r: r.longest.wait,
            seconds,
            f"≤ aging bound ({bypass:g} s)",
            lambda _f, p, _r: p <= bypass,
        ),
        Row(f"wait p95, {HEAVY} (heavy)", p95([HEAVY]), seconds),
        Row(
            f"wait p95, light users ({len(light)})", p95(light), seconds, "no worse than fifo", lambda f, p, _r: p <= f
        ),
        Row("Jain's index, mean slowdown", lambda r: r.fairness, figure, "(1 = equal)"),
    ]
    lines = []
    for row in rows:
        values = row.of(fifo), row.of(placement)
        fifo_text, placement_text = row.shown(values[0]), row.shown(values[1])
        ratio = values[1] / values[0] if values[0] else float("nan")
        ratio_text = f"{ratio:.2f}x" if ratio == ratio else "-"
        met = ""
        if row.met is not None:  # judged on the figures as printed
            printed = [float(text.rstrip("s%x ").replace(",", "")) for text in (fifo_text, placement_text, ratio_text)]
            if row.shown is percent:
                printed[:2] = [value / 100 for value in printed[:2]]
            met = "yes" if row.met(*printed) else "NO"
        lines.append((row.measure, fifo_text, placement_text, ratio_text, row.aim, met))
    print_table(("measure", "fifo", "placement", "placement/fifo", "aim", "met"), lines, left=(0, 4, 5))

    print("\nPer user: jobs, wait p50 / p95 / longest (s), mean slowdown ((wait + run) / run)")
    lines = []
    for user in USERS:
        count = sum(job.user == user for job in fifo.jobs)
        cells: list[str] = [f"{user}{' (heavy)' if user == HEAVY else ''}", str(count)]
        for result in (fifo, placement):
            waits = result.waits([user])
            cells += [
                f"{percentile(waits, 50):.1f} / {percentile(waits, 95):.1f} / {max(waits):.1f}",
                f"{result.mean_slowdown(user):.2f}",
            ]
        lines.append(tuple(cells))
    header = ("user", "jobs", "fifo wait", "fifo slowdown", "placement wait", "placement slowdown")
    print_table(header, lines, left=(0,))

    print("\nPer host: jobs run, model loads (stand-in's count by model), idle while jobs were queued")
    for result in (fifo, placement):
        for host in HOSTS:
            stats = result.stats[host]
            ran = sum(job.host == host for job in result.jobs)
            by_model = ", ".join(f"{model} {count}" for model, count in sorted(stats["model_loads"].items()))
            idle, stretch = result.idle_while_queued(host)
            print(
                f"  {result.scheduler:9} {host}: {ran:3} jobs, {stats['loads']:3} loads ({by_model}); "
                f"loading {stats['load_seconds']:.0f} s of {stats['busy_seconds']:.0f} s busy; "
                f"idle while queued {idle:.1f} s (longest {stretch:.1f} s)"
            )
    print("\nWhat each host ran, in order: a model's run of jobs (x count; * after a load, ^ a look-ahead load)")
    for result in (fifo, placement):
        for host in HOSTS:
            print(f"  {result.scheduler:9} {host}: {' '.join(runs_of(result, host))}")
    print("\nPlacement's rules, checked on what ran (the stand-ins' logs and ai_jobs):")
    for result in (fifo, placement):
        passed, smaller = result.passed_warm(), result.smaller_batches()
        print(
            f"  {result.scheduler:9} {result.aged_starts} of {len(result.jobs)} jobs started past the aging bound; "
            f"of {result.loads} loads: {len(passed)} passed over a queued job warm on that host"
            f"{' (fifo does not look)' if result.scheduler == 'fifo' else ''}, {len(smaller)} were for fewer queued "
            f"jobs than another model had waiting, {result.duplicate_loads()} were of the model the other host held"
            + (f", {len(result.preloads)} were look-ahead loads" if result.scheduler != "fifo" else "")
        )
        if result.scheduler != "fifo":
            for job, mine, model, most in smaller[:EXAMPLES]:
                print(
                    f"{'':12}{job.host} at {job.started:.1f} s loaded {SHORT[job.model]} for {job.user}'s {job.label} "
                    f"({mine} {SHORT[job.model]} job(s) queued) while {most} {SHORT[model]} jobs waited"
                )
            for before, job, warm in sorted(passed, key=lambda found: found[1].started)[:EXAMPLES]:
                print(
                    f"{'':12}{job.host} at {job.started:.1f} s, after {SHORT[before.model]} ({before.label}): "
                    f"loaded {SHORT[job.model]} for {job.user}'s {job.label} (waited {job.wait:.1f} s) while "
                    f"{warm.user}'s {SHORT[warm.model]} {warm.label} had waited {job.started - warm.created:.1f} s"
                )
    for result in (fifo, placement):
        job = result.longest
        aged_at = job.created + result.bypass
        passing = [other for other in result.jobs if aged_at <= other.started < job.started]
        younger = [other for other in passing if other.created > job.created]
        line = (
            f"  {result.scheduler:9} longest wait: {job.wait:.1f} s, {job.user}'s {SHORT[job.model]} {job.label} "
            f"queued at {job.created:.1f} s, ran on {job.host} at {job.started:.1f} s"
        )
        if passing:
            line += (
                f"; after it passed the bound ({aged_at:.1f} s) {len(passing)} jobs started first, {len(younger)} "
                f"of them queued after it ({sum(not other.loaded for other in younger)} warm, "
                f"{sum(other.user == job.user for other in younger)} {job.user}'s own)"
            )
        print(line)


EXAMPLES = 5  # of each rule's misses, the first ones printed
SHORT = {model: model.split(":")[0].split(".")[0].rstrip("0123456789") for model in MODELS}


def runs_of(result: Result, host: str) -> list[str]:
    """The host's jobs in order, grouped by model: `*llamax5` (loaded, then 5 jobs on it); `^llama`: a
    look-ahead load (the jobs after it on that model follow it)."""
    groups: list[list[Any]] = []
    ran = sorted([*result.on(host), *(job for job in result.preloads if job.host == host)], key=lambda job: job.started)
    for job in ran:
        preload = job in result.preloads
        if groups and groups[-1][0] == job.model and not job.loaded and not preload:
            groups[-1][2] += 1
        else:
            groups.append([job.model, "^" if preload else "*" if job.loaded else "", 0 if preload else 1])
    return [f"{mark}{SHORT[model]}" + (f"x{count}" if count else "") for model, mark, count in groups]


def print_timeline(result: Result) -> None:
    print(f"\n{result.scheduler}: every job by host and start (s since the first was queued)")
    for host in HOSTS:
        for job in sorted(
            [*result.on(host), *(job for job in result.preloads if job.host == host)], key=lambda job: job.started
        ):
            load = f"load {job.load_seconds:.1f} s" if job.loaded or job in result.preloads else ""
            aged = "aged" if job.wait > result.bypass else ""
            print(
                f"  {host} {job.started:6.1f}  {job.label:10} {job.user:6} {job.model:17} queued {job.created:6.1f}"
                f"  wait {job.wait:5.1f}  run {job.run:4.1f}  {load:13} {aged}".rstrip()
            )


# ---- the run -------------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    import pgserver

    trace = make_trace(args.seed, args.load, args.seconds)
    print(
        f"aijobs fleet benchmark: SCHEDULER=fifo, then placement, on one trace; Python {platform.python_version()};"
        f" {os.cpu_count()} cores, load average {', '.join(f'{n:.2f}' for n in os.getloadavg())} at start\n"
    )
    print_trace(trace, args)
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="aijobs-bench-fleet-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        try:
            await create_template(server.get_uri())
            for scheduler in ("fifo", "placement"):
                result = await run_scheduler(server.get_uri(), scheduler, trace, args.bypass)
                results[scheduler] = result
                print(
                    f"{scheduler}: {len(result.jobs)} jobs done in {result.seconds:.0f} s ({result.loads} model loads)",
                    flush=True,
                )
        finally:
            server.cleanup()
    print()
    report(results["fifo"], results["placement"], args.bypass)
    if args.timeline:
        for result in results.values():
            print_timeline(result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=12, help="the trace's random seed")
    parser.add_argument("--load", type=float, default=0.8, help="arrival rate as a share of the fleet's capacity")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long arrivals go on")
    parser.add_argument("--bypass", type=float, default=25.0, help="SCHEDULER_MAX_BYPASS_SECONDS (the aging bound)")
    parser.add_argument("--timeline", action="store_true", help="also print every job by host and start")
    asyncio.run(main(parser.parse_args()))
