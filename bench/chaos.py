"""`make chaos`: a chaos run anyone can repeat (issue 10).

M jobs go through K `aijobs worker` processes that share one GPU host (the Ollama stand-in, its own
process, with --slots slots) while a schedule drawn from --seed `kill -9`s workers (each is replaced a
moment later), freezes others with SIGSTOP and lets them go on with SIGCONT (half of the stops last longer
than LEASE_TTL_SECONDS + LEASE_RESCUE_GRACE_SECONDS, so the job is rescued and runs elsewhere, half
shorter), and stops and starts PostgreSQL. Jobs are queued with `store.enqueue`, each with its own prompt
("chaos job 17") so the stand-in's request log tells which job each generation was for; an enqueue that
fails while PostgreSQL is down is counted as not accepted and tried again (under an idempotency key, so a
commit whose answer was lost is not queued twice). After the faults, the queue gets up to --drain seconds
to empty; then the run prints:

- jobs accepted, completed, failed (by error_kind and message), still queued/running, lost (accepted,
  but neither finished nor queued/running: gone);
- jobs that ran more than once (generations per prompt in the stand-in's log), each explained from
  job_events (one 'running' event per attempt, with its worker) and the faults: was the worker that ran
  the earlier attempt killed, stopped, or was PostgreSQL down (its lease could not be renewed) meanwhile;
  a generation with no attempt of its own is explained by a stopped early start (a request sent as the
  job before ended, stopped because FINISH handed the slot elsewhere or could not be written), which the
  worker logs say;
- the most generations in flight at once on the stand-in (its max_in_flight), against the slots;
- the aims, yes/no: 0 lost, most in flight = slots, every double run explained by a fault of its runner.

    .venv/bin/python bench/chaos.py [--seed 1] [--jobs 150] [--workers 3] [--slots 2] [--kills 3]
                                    [--stops 4] [--pg-restarts 2] [--seconds 60] [--drain 60]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for app, bench and tests.support

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # platformdirs, through pgserver
logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)  # this process's pool, while PostgreSQL is down

import asyncpg

from app import db
from app.services.queue import store
from app.services.queue.processor import EARLY_START_STOPPED
from bench.common import create_template, fresh_database
from tests.support.processes import ServiceProcess
from tests.support.simulator import Simulator, start_simulator

# ---- the setting ---------------------------------------------------------------------------------------

LEASE_TTL = 3.0  # LEASE_TTL_SECONDS
GRACE = 1.5  # LEASE_RESCUE_GRACE_SECONDS
TOKEN_DELAY = 0.02  # s per token at the stand-in
TOKENS = (10, 60)  # a job's answer (options.num_predict): 0.2-1.2 s of generation
MAX_RETRIES = 10  # each rescue counts as a retry: enough for a job caught by several faults
QUOTA = 1_000_000_000
DB_TIMEOUT = 5.0  # s for one statement of this process (an enqueue is then tried again)
ACCEPT_WITHIN = 60.0  # s of refused enqueues before a job is given up as never accepted
WORKER_START_WITHIN = 60.0  # s to get a worker running (it cannot start while PostgreSQL is down)
LONG_STOP = (LEASE_TTL + GRACE + 1.0, LEASE_TTL + GRACE + 4.0)  # s: the job is rescued, runs elsewhere
SHORT_STOP = (0.5, LEASE_TTL + GRACE - 0.5)  # s: shorter than lease + grace
PG_DOWN = (1.0, 5.0)  # s PostgreSQL stays stopped
REPLACE_AFTER = (0.5, 3.0)  # s between a kill -9 and the start of its replacement
ARRIVALS_UNTIL = 0.8  # jobs arrive during this share of --seconds
FAULTS_BETWEEN = (0.1, 0.85)  # faults start within this share of --seconds
TERMINAL = ("completed", "failed", "cancelled")
PROMPT = "chaos job {n}"


def worker_env(url: str, sim: Simulator, slots: int) -> dict[str, str]:
    """What an `aijobs worker` gets (as tests/conftest.py service_env): one GPU host, the stand-in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MAX_", "JOB_", "LEASE_", "OLLAMA_")) and key != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=url,
        OLLAMA_BASE_URL=sim.base_url,
        MAX_CONCURRENT_JOBS=str(slots),
        LEASE_TTL_SECONDS=f"{LEASE_TTL:g}",
        LEASE_RESCUE_GRACE_SECONDS=f"{GRACE:g}",
        JOB_PROCESSING_INTERVAL="1",
        RETRY_BACKOFF_BASE="0.2",
        RETRY_BACKOFF_MAX="2",
        PROGRESS_WRITE_INTERVAL="0.2",
        SHUTDOWN_GRACE_SECONDS="1",
        HOST_PROBE_INTERVAL="1",
        LOG_LEVEL="INFO",
    )
    return env


# ---- the plan: arrivals and faults, from the seed ------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    n: int
    at: float  # s after the start
    tokens: int


@dataclass(frozen=True)
class Fault:
    at: float  # s after the start
    kind: str  # kill | stop | pg
    seconds: float  # stop: how long frozen; pg: how long down; kill: until its replacement starts

    def describe(self) -> str:
        if self.kind == "kill":
            return f"kill -9 a worker (replaced {self.seconds:.1f} s later)"
        if self.kind == "stop":
            longer = "longer" if self.seconds > LEASE_TTL + GRACE else "shorter"
            return f"SIGSTOP a worker for {self.seconds:.1f} s ({longer} than lease + grace)"
        return f"restart PostgreSQL (down {self.seconds:.1f} s)"


def make_plan(args: argparse.Namespace) -> tuple[list[Arrival], list[Fault]]:
    rng = random.Random(args.seed)
    times = sorted(rng.uniform(0, ARRIVALS_UNTIL * args.seconds) for _ in range(args.jobs))
    arrivals = [Arrival(n, at, rng.randint(*TOKENS)) for n, at in enumerate(times)]

    def at() -> float:
        return rng.uniform(FAULTS_BETWEEN[0] * args.seconds, FAULTS_BETWEEN[1] * args.seconds)

    faults = [Fault(at(), "kill", rng.uniform(*REPLACE_AFTER)) for _ in range(args.kills)]
    faults += [Fault(at(), "stop", rng.uniform(*(LONG_STOP if n % 2 == 0 else SHORT_STOP))) for n in range(args.stops)]
    faults += [Fault(at(), "pg", rng.uniform(*PG_DOWN)) for _ in range(args.pg_restarts)]
    return arrivals, sorted(faults, key=lambda fault: fault.at)


# ---- what happened -------------------------------------------------------------------------------------


@dataclass
class Worker:
    process: ServiceProcess
    worker_id: str  # as the worker printed it (host:pid:tag), as job_events records it
    stopped: bool = False
    killed: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def available(self) -> bool:
        return not (self.stopped or self.killed) and self.process.process.poll() is None


@dataclass
class Done:
    """A fault as it was carried out: wall-clock times (time.time(), as the stand-in and PostgreSQL)."""

    fault: Fault
    start: float
    end: float
    worker: Worker | None = None  # kill, stop
    running: list[str] | None = None  # prompts its worker ran when it struck (None: PostgreSQL did not answer)
    replacement: Worker | None = None  # kill
    skipped: str = ""


@dataclass
class Run:
    args: argparse.Namespace
    env: dict[str, str]
    pool: asyncpg.Pool
    server: Any  # pgserver.PostgresServer
    rng: random.Random
    started: float = field(default_factory=time.time)
    workers: list[Worker] = field(default_factory=list)
    processes: list[ServiceProcess] = field(default_factory=list)  # every one started, for the logs
    done: list[Done] = field(default_factory=list)
    accepted: dict[int, uuid.UUID] = field(default_factory=dict)  # job number → id
    refused: int = 0  # enqueues that failed (PostgreSQL down) and were tried again
    found_on_retry: int = 0  # retries that found the job queued already (its first commit's answer was lost)
    never_accepted: list[int] = field(default_factory=list)
    failed_starts: int = 0  # worker starts that failed (PostgreSQL down) and were tried again
    pg_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def since(self, moment: float) -> float:
        return moment - self.started


# ---- the database, while it restarts --------------------------------------------------------------------

DB_DOWN = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, TimeoutError)
T = TypeVar("T")


async def on_db(run: Run, work: Callable[[asyncpg.Connection], Awaitable[T]], within: float = DB_TIMEOUT) -> T:
    """`work` on a connection of the pool, within `within` seconds. A connection that failed or timed out
    is closed, not given back: a statement cut short by the timeout leaves it in no state to be reused."""
    async with asyncio.timeout(within):
        conn = await run.pool.acquire()
        try:
            return await work(conn)
        except BaseException:
            conn.terminate()
            raise
        finally:
            await run.pool.release(conn)


# ---- workers -------------------------------------------------------------------------------------------

STARTED = re.compile(r"aijobs worker (\S+) running")


async def start_worker(run: Run) -> Worker:
    """An `aijobs worker` that printed its id; tried again (a second later) while it exits at start-up,
    as it does while PostgreSQL is down."""
    deadline = time.monotonic() + WORKER_START_WITHIN
    while True:
        process = ServiceProcess(["worker"], run.env)
        run.processes.append(process)
        while process.process.poll() is None:
            found = STARTED.search(process.output())
            if found:
                worker = Worker(process, found.group(1))
                run.workers.append(worker)
                return worker
            if time.monotonic() > deadline:
                process.stop()
                raise TimeoutError(f"no worker running after {WORKER_START_WITHIN:g} s:\n{process.output()[-3000:]}")
            await asyncio.sleep(0.1)
        process.stop()
        run.failed_starts += 1
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker exited at start-up:\n{process.output()[-3000:]}")
        await asyncio.sleep(1.0)


async def running_prompts(run: Run) -> dict[str, list[str]] | None:
    """The prompts each worker runs now (by worker id); None if PostgreSQL does not answer."""
    query = """SELECT worker_id, array_agg(request_data ->> 'prompt' ORDER BY started_at) AS prompts
               FROM ai_jobs WHERE status = 'running' AND worker_id IS NOT NULL GROUP BY worker_id"""
    try:
        rows = await on_db(run, lambda conn: conn.fetch(query), within=2.0)
    except DB_DOWN:
        return None
    return {row["worker_id"]: list(row["prompts"]) for row in rows}


async def pick_worker(run: Run) -> tuple[Worker, list[str] | None] | None:
    """A worker to strike: one running a job if any (seeded choice), leaving at least one other worker
    able to work; None if there is none such."""
    if sum(worker.available for worker in run.workers) < 2:
        return None
    running = await running_prompts(run)
    # Counted again after the query: a strike due at the same moment may have taken a worker meanwhile
    # (two picked the same one, and the second's SIGCONT found it killed).
    available = [worker for worker in run.workers if worker.available]
    if len(available) < 2:
        return None
    busy = [worker for worker in available if running and running.get(worker.worker_id)]
    worker = run.rng.choice(busy or available)
    return worker, None if running is None else running.get(worker.worker_id, [])


# ---- faults --------------------------------------------------------------------------------------------


def stop_postgres(server: Any) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


async def strike(run: Run, fault: Fault) -> None:
    await asyncio.sleep(max(0.0, run.started + fault.at - time.time()))
    if fault.kind == "pg":
        async with run.pg_lock:  # one restart at a time
            start = time.time()
            await asyncio.to_thread(stop_postgres, run.server)
            await asyncio.sleep(fault.seconds)
            await asyncio.to_thread(run.server.ensure_postgres_running)
            run.done.append(Done(fault, start, time.time()))
        return
    picked = None
    waited = time.monotonic() + 10.0
    while picked is None and time.monotonic() < waited:  # every other worker is stopped or killed: wait
        picked = await pick_worker(run)
        if picked is None:
            await asyncio.sleep(0.5)
    if picked is None:
        run.done.append(Done(fault, time.time(), time.time(), skipped="no worker to strike for 10 s"))
        return
    worker, prompts = picked
    if fault.kind == "kill":
        worker.killed = True
        start = time.time()
        os.kill(worker.pid, signal.SIGKILL)
        await asyncio.to_thread(worker.process.process.wait, 10)
        done = Done(fault, start, start, worker, prompts)
        run.done.append(done)
        await asyncio.sleep(fault.seconds)
        done.replacement = await start_worker(run)
    else:
        worker.stopped = True
        start = time.time()
        os.kill(worker.pid, signal.SIGSTOP)
        await asyncio.sleep(fault.seconds)
        os.kill(worker.pid, signal.SIGCONT)
        worker.stopped = False
        run.done.append(Done(fault, start, time.time(), worker, prompts))


# ---- jobs ----------------------------------------------------------------------------------------------


def new_job(arrival: Arrival) -> store.NewJob:
    user = f"user{arrival.n % 4}"
    request = {"model": "tinyllama", "prompt": PROMPT.format(n=arrival.n), "options": {"num_predict": arrival.tokens}}
    return store.NewJob(
        user_id=user,
        username=user,
        job_type="generate",
        request_data=request,
        model="tinyllama:latest",
        max_retries=MAX_RETRIES,
        idempotency_key=f"chaos-{arrival.n}",
    )


async def enqueue_all(run: Run, arrivals: list[Arrival]) -> None:
    for arrival in arrivals:
        await asyncio.sleep(max(0.0, run.started + arrival.at - time.time()))
        give_up = time.monotonic() + ACCEPT_WITHIN
        new = new_job(arrival)
        retried = False
        while True:
            try:
                queued = await on_db(run, lambda conn, new=new: store.enqueue(conn, new, quota=QUOTA))
            except DB_DOWN:
                run.refused += 1
                retried = True
                if time.monotonic() > give_up:
                    run.never_accepted.append(arrival.n)
                    break
                await asyncio.sleep(0.5)
                continue
            run.accepted[arrival.n] = queued.job.id
            run.found_on_retry += retried and not queued.created
            break


async def unfinished(run: Run) -> int | None:
    query = "SELECT count(*) FROM ai_jobs WHERE id = ANY($1::uuid[]) AND status IN ('queued', 'running')"
    try:
        return await on_db(run, lambda conn: conn.fetchval(query, list(run.accepted.values())))
    except DB_DOWN:
        return None


async def drain(run: Run) -> float:
    """Wait until no accepted job is queued or running, or --drain seconds; the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < run.args.drain:
        if await unfinished(run) == 0:
            break
        await asyncio.sleep(0.25)
    return time.monotonic() - start


# ---- the report ----------------------------------------------------------------------------------------


@dataclass
class Attempt:
    number: int
    worker_id: str | None
    start: float  # wall clock of its 'running' event
    end: float | None  # wall clock of the event that ended it (None: still running)
    ended: str  # that event's status and message


def attempts_of(events: list[asyncpg.Record]) -> list[Attempt]:
    found: list[Attempt] = []
    for event in events:
        if event["status"] == "running":
            found.append(Attempt(event["attempt"], event["worker_id"], event["at"], None, "still running"))
        elif found and found[-1].end is None and event["attempt"] == found[-1].number:
            found[-1].end = event["at"]
            found[-1].ended = f"{event['status']}" + (f": {event['message']}" if event["message"] else "")
    return found


def causes(run: Run, attempt: Attempt, until: float) -> list[str]:
    """The faults that could end `attempt` (between its start and `until`): its worker killed or
    stopped, PostgreSQL down (its lease could not be renewed)."""
    found = []
    for done in run.done:
        if done.skipped or done.end < attempt.start or done.start > until:
            continue
        if done.fault.kind == "pg":
            found.append(f"PostgreSQL down {run.since(done.start):.1f}-{run.since(done.end):.1f} s")
        elif done.worker is not None and done.worker.worker_id == attempt.worker_id:
            if done.fault.kind == "kill":
                found.append(f"its worker killed (kill -9 at {run.since(done.start):.1f} s)")
            else:
                found.append(
                    f"its worker stopped {run.since(done.start):.1f}-{run.since(done.end):.1f} s "
                    f"({done.end - done.start:.1f} s)"
                )
    return found


def clip(text: str, width: int = 110) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def print_events(run: Run, events: list[asyncpg.Record]) -> None:
    for event in events:
        print(
            f"      {run.since(event['at']):6.1f} s  {event['status']:9}  attempt {event['attempt']}  "
            f"worker {pid_of(event['worker_id']) if event['worker_id'] else '-'}  {event['message'] or ''}".rstrip()
        )


def pid_of(worker_id: str | None) -> str:
    parts = (worker_id or "?").split(":")
    return parts[1] if len(parts) == 3 else worker_id or "?"


def peak(entries: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """The most GPU requests in flight at once in the stand-in's log, and those requests."""
    points = []
    for entry in entries:
        points += [(entry["start"], 1, id(entry)), (entry["end"] or float("inf"), -1, id(entry))]
    by_id = {id(entry): entry for entry in entries}
    active: set[int] = set()
    best: list[dict[str, Any]] = []
    for _at, step, key in sorted(points, key=lambda point: (point[0], point[1])):  # ends before starts
        if step > 0:
            active.add(key)
            if len(active) > len(best):
                best = [by_id[k] for k in active]
        else:
            active.discard(key)
    return len(best), best


async def report(run: Run, sim: Simulator, drained: float, left: int | None) -> list[tuple[str, bool]]:
    ids = list(run.accepted.values())
    rows = await run.pool.fetch(
        """SELECT id, request_data ->> 'prompt' AS prompt, status, error_kind, error_message, attempt
           FROM ai_jobs WHERE id = ANY($1::uuid[])""",
        ids,
    )
    events = await run.pool.fetch(
        """SELECT job_id, status, attempt, worker_id, message, extract(epoch FROM created_at)::float8 AS at
           FROM job_events WHERE job_id = ANY($1::uuid[]) ORDER BY id""",
        ids,
    )
    stats = sim.stats()
    by_job: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for event in events:
        by_job.setdefault(event["job_id"], []).append(event)
    jobs = {row["id"]: row for row in rows}
    status = Counter(row["status"] for row in rows)
    lost = [n for n, job_id in run.accepted.items() if job_id not in jobs or jobs[job_id]["status"] not in
            (*TERMINAL, "queued", "running")]  # fmt: skip
    stuck = sorted(
        n for n, job_id in run.accepted.items() if job_id in jobs and jobs[job_id]["status"] in ("queued", "running")
    )
    gpu = [entry for entry in stats["log"] if entry["endpoint"] in ("generate", "chat", "embed", "embeddings")]
    generations = Counter(entry["prompt"] for entry in gpu if entry["prompt"])
    runs_at_stand_in = {n: generations[PROMPT.format(n=n)] for n in run.accepted}
    twice = sorted(n for n, count in runs_at_stand_in.items() if count > 1)
    completed = {n for n, job_id in run.accepted.items() if job_id in jobs and jobs[job_id]["status"] == "completed"}
    never_ran = sorted(n for n in completed if runs_at_stand_in[n] == 0)

    print("\nFaults (s since the start):" + ("" if run.done else " none"))
    for done in sorted(run.done, key=lambda done: done.start):
        line = f"  {run.since(done.start):6.1f}  "
        if done.skipped:
            line += f"{done.fault.describe()}: skipped, {done.skipped}"
        elif done.fault.kind == "pg":
            line += f"PostgreSQL stopped (pg_ctl -m fast), started again at {run.since(done.end):.1f} s"
        else:
            assert done.worker is not None
            what = "kill -9" if done.fault.kind == "kill" else f"SIGSTOP for {done.end - done.start:.1f} s"
            if done.fault.kind == "stop":
                what += " (longer than lease + grace)" if done.fault.seconds > LEASE_TTL + GRACE else " (shorter)"
            running = "? (PostgreSQL did not answer)" if done.running is None else ", ".join(done.running) or "nothing"
            line += f"{what} worker {done.worker.pid}, running {running}"
            if done.replacement is not None:
                line += f"; replaced by {done.replacement.pid}"
        print(line)
    if run.failed_starts:
        print(f"  ({run.failed_starts} worker start(s) failed while PostgreSQL was down, and were tried again)")

    print("\nJobs")
    failed = Counter(
        (row["error_kind"] or "?", clip(row["error_message"] or "")) for row in rows if row["status"] == "failed"
    )
    refused = f"{run.refused} enqueue(s) refused while PostgreSQL was down, tried again"
    if run.found_on_retry:
        refused += f"; {run.found_on_retry} found queued already on the retry"
    lines = [
        ("accepted", len(run.accepted), f"of {run.args.jobs}; {refused}"),
        ("never accepted", len(run.never_accepted), f"refused for {ACCEPT_WITHIN:g} s: {run.never_accepted[:10]}"),
        ("completed", status["completed"], ""),
        ("failed", status["failed"], ""),
        ("cancelled", status["cancelled"], ""),
        (
            "still queued/running",
            len(stuck),
            f"after a drain of {drained:.1f} s: {[PROMPT.format(n=n) for n in stuck[:8]]}",
        ),
        ("lost", len(lost), "accepted, but neither finished nor queued/running: " + str(lost[:10])),
        ("ran more than once", len(twice), "generations per prompt in the stand-in's log"),
        ("most in flight at once", stats["max_in_flight"], f"the stand-in's max_in_flight; slots: {run.args.slots}"),
    ]
    if never_ran:
        lines.append(("completed, no generation", len(never_ran), str(never_ran[:10])))
    for name, count, note in lines:
        if name == "never accepted" and not count:
            continue
        print(
            f"  {name:24} {count:5}  {note if count or name in ('accepted', 'most in flight at once') else ''}".rstrip()
        )
    for (kind, message), count in failed.most_common():
        print(f"    failed {count}x, error_kind {kind}: {message}")
    for n in (lost + stuck)[:5]:
        print(f"  job_events of {PROMPT.format(n=n)} ({'lost' if n in lost else 'not finished'}):")
        print_events(run, by_job.get(run.accepted[n], []))
    outcomes = Counter(entry["outcome"] or "running" for entry in gpu)
    loads = sum(not entry["prompt"] for entry in gpu)
    print(
        f"  stand-in: {len(gpu)} generations ({loads} of them model loads): "
        + ", ".join(f"{count} {outcome}" for outcome, count in outcomes.most_common())
        + f"; in flight at the end {stats['in_flight']}"
    )

    early_stops = stopped_early_starts(run.processes)
    unexplained = 0
    if twice:
        print("\nRan more than once, from job_events (attempt, its worker's pid, how it ended) and the faults:")
    for n in twice:
        job_id = run.accepted[n]
        attempts = attempts_of(by_job.get(job_id, []))
        outcomes = Counter(entry["outcome"] for entry in gpu if entry["prompt"] == PROMPT.format(n=n))
        final = jobs[job_id]["status"] if job_id in jobs else "missing"
        print(
            f"  {PROMPT.format(n=n)}: {runs_at_stand_in[n]} generations "
            f"({', '.join(f'{count} {outcome}' for outcome, count in outcomes.items())}), "
            f"{len(attempts)} attempts, {final}"
        )
        stopped_early = early_stops[job_id]
        if stopped_early:
            print(f"    {stopped_early} early start(s) stopped (the worker log says so): never an attempt")
        explained = len(attempts) + stopped_early >= runs_at_stand_in[n]
        if not explained:
            print("    NOT EXPLAINED: more generations at the stand-in than attempts and stopped early starts")
        for index, attempt in enumerate(attempts[:-1]):
            until = attempt.end or attempts[index + 1].start  # what ended it, or the next one's start
            found = causes(run, attempt, until)
            print(
                f"    attempt {attempt.number} on worker {pid_of(attempt.worker_id)} at "
                f"{run.since(attempt.start):.1f} s, ended {run.since(until):.1f} s "
                f"({clip(attempt.ended)}): "
                + ("; ".join(found) if found else "NOT EXPLAINED (no fault of its worker, PostgreSQL up)")
            )
            explained = explained and bool(found)
        if not explained:
            print_events(run, by_job.get(job_id, []))
        unexplained += not explained

    in_flight, at_peak = peak(gpu)
    if stats["max_in_flight"] > run.args.slots or in_flight > run.args.slots:
        print(f"\nMore generations in flight than slots: {in_flight} at once (from the log):")
        for entry in sorted(at_peak, key=lambda entry: entry["start"]):
            end = f"{run.since(entry['end']):.1f}" if entry["end"] else "-"
            print(
                f"  {entry['prompt'] or '(model load)'}: {run.since(entry['start']):.1f}-{end} s, {entry['outcome']}, "
                f"{entry['tokens']} tokens"
            )
            for number, job_id in [(n, run.accepted[n]) for n in run.accepted if PROMPT.format(n=n) == entry["prompt"]]:
                for attempt in attempts_of(by_job.get(job_id, [])):
                    print(
                        f"    {PROMPT.format(n=number)} attempt {attempt.number} on worker {pid_of(attempt.worker_id)} "
                        f"at {run.since(attempt.start):.1f} s, ended {clip(attempt.ended)}"
                    )

    aims = [
        ("0 lost", not lost),
        (f"most in flight = slots ({run.args.slots})", stats["max_in_flight"] == run.args.slots),
        ("every double run explained by a killed/stopped runner (or PostgreSQL down)", unexplained == 0),
    ]
    print("\nAims")
    width = max(len(aim) for aim, _ in aims)
    for aim, met in aims:
        print(f"  {aim.ljust(width)}  {'yes' if met else 'NO'}")
    if left:
        print(f"  (and {left} accepted job(s) still queued or running after the drain)")
    return aims


# ---- the run -------------------------------------------------------------------------------------------


async def chaos(args: argparse.Namespace, server: Any, arrivals: list[Arrival], faults: list[Fault]) -> bool:
    await create_template(server.get_uri())
    url = await fresh_database(server.get_uri(), "chaos")
    sim = start_simulator(token_delay=TOKEN_DELAY, tokens=TOKENS[1])
    pool = await db.create_pool(url, max_size=3)
    run = Run(args, worker_env(url, sim, args.slots), pool, server, random.Random(args.seed + 1))
    logs = Path(tempfile.mkdtemp(prefix=f"aijobs-chaos-seed{args.seed}-"))
    ok = False
    try:
        await asyncio.gather(*(start_worker(run) for _ in range(args.workers)))
        print(
            f"{args.workers} workers running ({', '.join(str(worker.pid) for worker in run.workers)}); go\n", flush=True
        )
        run.started = time.time()
        async with asyncio.TaskGroup() as group:  # one failing stops the others
            group.create_task(enqueue_all(run, arrivals))
            for fault in faults:
                group.create_task(strike(run, fault))
        print(f"faults done and every job offered at {run.since(time.time()):.1f} s; draining", flush=True)
        drained = await drain(run)
        left = await unfinished(run)
        aims = await report(run, sim, drained, left)
        ok = all(met for _aim, met in aims) and not left
    finally:
        for worker in run.workers:
            if worker.process.process.poll() is None:
                os.kill(worker.pid, signal.SIGCONT)
        await asyncio.gather(*(asyncio.to_thread(process.stop) for process in run.processes))
        sim.stop()
        await pool.close()
        for process in run.processes:
            process.log_path = Path(shutil.move(process.log_path, logs / f"worker-{process.pid}.log"))
        if not ok or args.keep_logs:
            print(f"\nworker logs: {logs}")
    summarize_logs(run.processes)
    if ok and not args.keep_logs:
        shutil.rmtree(logs)
    return ok


EARLY_STOP = re.compile(rf"job (\S+): {EARLY_START_STOPPED}")


def stopped_early_starts(processes: list[ServiceProcess]) -> Counter[uuid.UUID]:
    """Per job, the early starts the workers' logs say were stopped (each one a generation at the stand-in
    that never became an attempt)."""
    found: Counter[uuid.UUID] = Counter()
    for process in processes:
        found.update(uuid.UUID(job_id) for job_id in EARLY_STOP.findall(process.output()))
    return found


LOG_LINE = re.compile(r"^\S+ \S+ (ERROR|WARNING|CRITICAL) (\S+): (.*)$", re.MULTILINE)
JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def summarize_logs(processes: list[ServiceProcess]) -> None:
    """The workers' warnings and errors, alike ones counted together (job ids and numbers left out)."""
    kinds: Counter[str] = Counter()
    for process in processes:
        for level, logger, message in LOG_LINE.findall(process.output()):
            message = re.sub(r"\d+(\.\d+)?", "N", JOB_ID.sub("<job>", message))
            kinds[f"{level} {logger.removeprefix('app.services.')}: {message}"[:150]] += 1
    print(f"\nWorker logs: {kinds.total()} warnings and errors, alike ones counted together; the most common:")
    for line, count in kinds.most_common(LOG_KINDS):
        print(f"  {count:4}x {line}")
    if len(kinds) > LOG_KINDS:
        print(f"  ... and {len(kinds) - LOG_KINDS} other kinds")


LOG_KINDS = 12


async def main(args: argparse.Namespace) -> int:
    import pgserver

    arrivals, faults = make_plan(args)
    began = time.monotonic()
    print(
        f"aijobs chaos run, seed {args.seed}: {args.jobs} jobs ({TOKENS[0]}-{TOKENS[1]} tokens at "
        f"{TOKEN_DELAY * 1000:g} ms) arriving over {ARRIVALS_UNTIL * args.seconds:.0f} s through {args.workers} "
        f"`aijobs worker` processes, one GPU host (the Ollama stand-in) with {args.slots} slot(s); "
        f"LEASE_TTL_SECONDS={LEASE_TTL:g}, LEASE_RESCUE_GRACE_SECONDS={GRACE:g}, max_retries {MAX_RETRIES}. "
        f"Python {platform.python_version()}, {os.cpu_count()} cores, load average "
        f"{', '.join(f'{n:.2f}' for n in os.getloadavg())} at start"
    )
    print(
        "Planned faults:", "; ".join(f"{fault.at:.1f} s {fault.describe()}" for fault in faults) or "none", flush=True
    )
    with tempfile.TemporaryDirectory(prefix="aijobs-chaos-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        try:
            ok = await chaos(args, server, arrivals, faults)
        finally:
            server.cleanup()
    print(f"\n{time.monotonic() - began:.0f} s in all")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1, help="the random schedule of arrivals and faults")
    parser.add_argument("--jobs", type=int, default=150, help="jobs queued (M)")
    parser.add_argument("--workers", type=int, default=3, help="`aijobs worker` processes (K)")
    parser.add_argument("--slots", type=int, default=2, help="GPU slots of the one host (MAX_CONCURRENT_JOBS)")
    parser.add_argument("--kills", type=int, default=3, help="workers killed with kill -9 (each replaced)")
    parser.add_argument("--stops", type=int, default=4, help="workers frozen with SIGSTOP (half past lease + grace)")
    parser.add_argument("--pg-restarts", type=int, default=2, help="PostgreSQL stops and starts")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long jobs arrive and faults strike")
    parser.add_argument("--drain", type=float, default=60.0, help="at most this long for the queue to empty after")
    parser.add_argument("--keep-logs", action="store_true", help="keep the workers' logs (kept anyway if an aim fails)")
    sys.exit(asyncio.run(main(parser.parse_args())))
