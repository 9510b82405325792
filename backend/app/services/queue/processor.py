"""The processor: claims jobs under the GPU slot cap, runs their job types, writes the outcome.

It holds no SQL (that is `store.py`/`sql.py`) and no job-type logic (that is the job types). Runs
inside the API process (lifespan) or alone as `aijobs worker`; any number of processors on any number
of machines share the database, and the slot leases keep the GPU cap global.

How a job goes through it:
- **claim** — one statement takes a free slot and the next job together (`store.claim`);
- **run** — the job type streams from Ollama; progress is kept in memory and written for all running
  jobs at once every PROGRESS_WRITE_INTERVAL;
- **finish** — one statement writes the outcome and hands the slot straight to the next job
  (`store.finish`), whose run starts at once: the GPU does not wait for a separate claim.
- **reserve ahead** — on a one-slot host, the statement that starts a job (the claim, a hand-off) also
  reserves the job that job's hand-off would take (`Claimed.ahead`; RESERVE_AHEAD, while its lease lasts).
  When the run ends, that job's request goes to Ollama at once (an *early start*, under the slot's lease,
  which this processor still holds), while FINISH writes the outcome and picks again. FINISH's pick
  decides: if it is the reserved job, the early start is confirmed and carries on; if not (a fairer job
  came, the job was cancelled), it is stopped before the chosen job starts, and nothing of it is
  recorded or shown. Only job types that merely ask
  Ollama for an answer start early (`JobType.starts_early`): an unconfirmed start leaves no trace.
- **heartbeat** — one statement every TTL/3 renews every lease this processor holds.
- **self-fencing** — each job has a local lease deadline: when its last renewal was *sent*, plus the
  TTL, minus a margin. If no renewal arrives by then (the database is unreachable, the heartbeat died,
  the process was paused), the job's Ollama stream is closed and its run stopped, before any other
  processor may take the slot (the rescuer waits LEASE_RESCUE_GRACE_SECONDS past expiry).
- **outcome writes** run in their own task, shielded from cancellation, and are retried while the
  database blinks (they are fenced by the attempt, so a late write cannot overwrite a newer attempt).
- **hosts** — a processor drives every GPU host in the `hosts` table (or those `--hosts` names), each with
  its own Ollama client and slots; it claims for a host while that host has a free slot and takes work,
  and reloads the hosts when they change (NOTIFY). Which job a host takes is placement (the claim's SQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import ollama
from sqlalchemy.ext.asyncio import AsyncEngine

from app import db
from app.config import Settings
from app.models.job import JobStatus
from app.services.fleet import hosts as fleet_hosts
from app.services.fleet import sql as fleet_sql
from app.services.fleet.lookahead import LookAhead
from app.services.fleet.prober import Prober
from app.services.job_types import JOB_TYPES
from app.services.leases.gpu import GPU_POOL
from app.services.ollama import system_settings
from app.services.queue import sql, store
from app.services.queue.backoff import retry_delay
from app.services.queue.cleaner import Cleaner
from app.services.queue.deadlines import DeadlineSweeper
from app.services.queue.errors import JobError, PermanentError, TransientError, classify
from app.services.queue.job_type import JobContext, JobType
from app.services.queue.listener import Listener
from app.services.queue.progress import ProgressHub, ProgressReporter
from app.services.queue.rescuer import Rescuer
from app.services.queue.supervisor import TaskGroup
from app.services.realtime.events import Events

log = logging.getLogger(__name__)

DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)
# What the log says of an early start FINISH did not confirm (the chaos bench and the tests count these).
EARLY_START_STOPPED = "its early start was stopped"
EARLY_CANCEL_MEMORY = 60.0  # seconds a cancel for a job not (yet) running here is remembered


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def fence_margin(ttl: float) -> float:
    """How long before its lease could expire a runner stops on its own: a tenth of the TTL, at most 1 s."""
    return min(1.0, ttl / 10)


@dataclass(eq=False)
class Driver:
    """One GPU host this processor drives: the host as last read, its Ollama client, its slots."""

    host: fleet_hosts.Host
    ollama: ollama.AsyncClient
    slots: store.Slots


@dataclass(eq=False)
class Run:
    """One claimed job in this process."""

    claimed: store.Claimed
    driver: Driver
    progress: ProgressReporter
    deadline: float  # monotonic: stop the job's GPU work by then unless its lease is renewed
    task: asyncio.Task[None] | None = None
    stop_reason: str | None = None  # why we cancelled its task: cancelled · lease_lost · shutdown
    executing: bool = False  # its task has begun (a task cancelled before it begins never runs its cleanup)
    finishing: bool = False  # its job type returned; only the (fenced, shielded) outcome write is left
    deadline_sent: float = 0.0  # when the statement that last renewed its lease was sent
    watchdog: asyncio.TimerHandle | None = field(default=None, repr=False)
    # An early start: running before FINISH confirmed the slot is its (`confirmed` says whether it was);
    # its progress events wait in `held` until then.
    early: bool = False
    confirmed: asyncio.Future[bool] | None = field(default=None, repr=False)
    held: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def job(self) -> store.Job:
        return self.claimed.job


class Processor:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        database_url: str,
        job_types: dict[str, JobType] | None = None,
        pool: str = GPU_POOL,
        hub: ProgressHub | None = None,
        events: Events | None = None,
        hosts: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine  # for job types that coordinate through leases and settings
        self.database_url = database_url
        self.hub = hub  # in-process listeners to running jobs' progress
        self.events = events  # Socket.IO clients, in any process
        self.job_types = job_types if job_types is not None else JOB_TYPES
        self.pool = pool
        self.ttl = settings.lease_ttl_seconds
        self.grace = settings.lease_rescue_grace_seconds
        self.operations = {name: kind.operation for name, kind in self.job_types.items()}
        self.early_types = tuple(name for name, kind in self.job_types.items() if kind.starts_early)
        self.placement = store.Placement(
            fifo=settings.scheduler == "fifo", bypass=settings.scheduler_max_bypass_seconds
        )
        self.pinned = set(hosts) if hosts else None  # `aijobs worker --hosts`: drive only these hosts
        self.drivers: dict[str, Driver] = {}  # by host name
        self._clients: list[ollama.AsyncClient] = []  # every client made (closed at stop; runs may use old ones)
        self.worker_id = new_worker_id()
        self.db: asyncpg.Pool | None = None
        self.prober: Prober | None = None
        self.running: dict[uuid.UUID, Run] = {}
        self.listener = Listener(database_url)
        self.rescuer: Rescuer | None = None
        self.deadlines: DeadlineSweeper | None = None
        self.cleaner: Cleaner | None = None
        self._settings_values: dict[str, Any] | None = None  # system_settings, reloaded when changed
        self._early_cancels: dict[uuid.UUID, float] = {}
        self._writes: set[asyncio.Task[Any]] = set()
        self._tasks = TaskGroup()
        self._wake = asyncio.Event()
        self._claiming = asyncio.Lock()  # the claim loop and hand-offs take turns
        self._stopping = False
        self._started = False
        self._hosts_changed = False  # a NOTIFY said the hosts changed: read them before the next claim
        self._reserve_wanted = False  # a job was queued while a run here may have a job reserved after it
        self._queued_seen = 0  # job_queued NOTIFYs of this pool so far

    def _pool(self) -> asyncpg.Pool:
        assert self.db is not None, "processor not started"
        return self.db

    @property
    def max_running(self) -> int:
        """Jobs this process runs at once: the slots of the hosts it drives."""
        return sum(driver.host.slots for driver in self.drivers.values())

    def running_on(self, host: str) -> int:
        return sum(1 for run in self.running.values() if run.driver.host.name == host)

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self.db = await db.create_pool(
            self.database_url, min_size=1, max_size=max(self.settings.max_concurrent_jobs, 4) + 3, processor=True
        )
        await fleet_hosts.seed(self.db, self.settings)
        await self._load_hosts()
        sweep_interval = max(0.2, min(self.ttl / 2, 10.0))
        on_moved = self.events.job_changed if self.events else None
        self.rescuer = Rescuer(self.db, interval=sweep_interval, on_moved=on_moved)
        self.deadlines = DeadlineSweeper(self.db, interval=sweep_interval, on_moved=on_moved)
        self.cleaner = Cleaner(self.db, days=self.settings.job_cleanup_days)
        self.prober = Prober(self.db, interval=self.settings.host_probe_interval)
        self.listener.listen(sql.CHANNEL_JOB_QUEUED, self._on_job_queued)
        self.listener.listen(sql.CHANNEL_SLOT_FREED, self._on_pool_event)
        self.listener.listen(sql.CHANNEL_JOB_CANCEL, self._on_cancel)
        self.listener.listen(system_settings.CHANNEL_SETTINGS_CHANGED, self._on_settings_changed)
        self.listener.listen(fleet_sql.CHANNEL_HOSTS_CHANGED, self._on_hosts_changed)
        self.listener.on_connect(self._on_listen_connect)
        self._tasks.spawn("listener", self.listener.run)
        self._tasks.spawn("heartbeat", self._heartbeat_loop)
        self._tasks.spawn("progress", self._progress_loop)
        self._tasks.spawn("rescuer", self.rescuer.run)
        self._tasks.spawn("deadlines", self.deadlines.run)
        self._tasks.spawn("cleaner", self.cleaner.run)
        self._tasks.spawn("prober", self.prober.run)
        if not self.placement.fifo:
            self._tasks.spawn("look_ahead", LookAhead(self.db, interval=self.settings.host_probe_interval).run)
        self._tasks.spawn("claim_loop", self._claim_loop)
        self._started = True
        log.info(
            "processor %s started: pool %s, host(s) %s, lease %gs (+%gs grace), %s placement",
            self.worker_id,
            self.pool,
            ", ".join(f"{d.host.name} ({d.host.slots} slot(s), {d.host.base_url})" for d in self.drivers.values())
            or "none yet",
            self.ttl,
            self.grace,
            self.settings.scheduler,
        )

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let running jobs finish for `grace` seconds; then stop and re-queue them."""
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        self._stopping = True
        self._wake.set()
        async with self._claiming:  # a claim in flight finishes and starts its job: it is stopped below too
            pass
        deadline = time.monotonic() + grace
        while self.running:  # again while hand-offs started before the stop still start new runs
            tasks = [run.task for run in self.running.values() if run.task]
            log.info("waiting up to %.0fs for %d running job(s)", max(0.0, deadline - time.monotonic()), len(tasks))
            _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
            for run in list(self.running.values()):
                if run.task in pending:
                    self._stop(run, "shutdown")
            if pending:
                await asyncio.wait(pending)
        if self._writes:
            await asyncio.wait(list(self._writes))
        await self._tasks.cancel_all()
        for client in self._clients:
            await client._client.aclose()
        if self.db is not None:
            await self.db.close()
        self._started = False
        log.info("processor %s stopped", self.worker_id)

    def health(self) -> dict[str, Any]:
        tasks = self._tasks.health()
        return {
            "running": self._started and not self._stopping and all(t["alive"] for t in tasks.values()),
            "worker_id": self.worker_id,
            "active_jobs": len(self.running),
            "max_concurrent_jobs": self.max_running,
            "processing_interval": self.settings.job_processing_interval,
            "listening": self.listener.connected.is_set(),
            "hosts": {name: d.host.state for name, d in self.drivers.items()},
            "background_tasks": tasks,
        }

    # ---- wake-ups --------------------------------------------------------------------------------

    def _on_pool_event(self, payload: str) -> None:
        pool, _, sender = payload.partition(" ")
        if pool != self.pool or sender == self.worker_id:
            return  # another pool, or a slot this processor freed itself (it found nothing to hand on)
        if len(self.running) < self.max_running:
            self._wake.set()  # with no room here, only our own hand-offs can use a slot: nothing to do

    def _on_job_queued(self, payload: str) -> None:
        self._on_pool_event(payload)
        if payload.partition(" ")[0] != self.pool:
            return
        self._queued_seen += 1
        if any(self._may_reserve(run) for run in self.running.values()):
            # The claim loop reserves the new job to follow a run here if it is now the fair next one (after
            # it has tried to claim it for a free slot, if this process has one).
            self._reserve_wanted = True
            self._wake.set()

    def _on_listen_connect(self) -> None:
        self._settings_values = None  # changes may have been missed while disconnected
        self._hosts_changed = True
        self._wake.set()

    def _on_hosts_changed(self, _payload: str) -> None:
        self._hosts_changed = True  # the claim loop reads them again before it claims
        self._wake.set()

    # ---- hosts -----------------------------------------------------------------------------------

    async def _load_hosts(self) -> None:
        """Read the hosts again: new ones get a client and slots; changed ones their new address, slots,
        state; removed ones are dropped once nothing of theirs runs here."""
        self._hosts_changed = False
        hosts = await fleet_hosts.all_hosts(self._pool())
        found = {host.name: fleet_hosts.as_configured(host, self.settings) for host in hosts}
        for name, host in found.items():
            if self.pinned is not None and name not in self.pinned:
                continue
            driver = self.drivers.get(name)
            if driver is None or driver.host.base_url != host.base_url:
                client = self._client_for(host.base_url)
            else:
                client = driver.ollama
            slots = store.Slots(
                pool=self.pool,
                keys=host.slot_keys(self.pool),
                ttl=self.ttl,
                grace=self.grace,
                operations=self.operations,
                host=name,
                placement=self.placement,
                # Reserve ahead only where the hand-off's moment is the whole GPU's idle time: with several
                # slots, the others keep it busy.
                reserve_ahead=self.settings.reserve_ahead and host.slots == 1,
                early_types=self.early_types,
            )
            if driver is None:
                self.drivers[name] = Driver(host, client, slots)
            else:
                driver.host, driver.ollama, driver.slots = host, client, slots
        for name in [name for name in self.drivers if name not in found and not self.running_on(name)]:
            del self.drivers[name]
        if self.pinned is not None and (missing := self.pinned - set(found)):
            log.warning("pinned to host(s) %s, which the hosts table does not have", ", ".join(sorted(missing)))

    def _client_for(self, base_url: str) -> ollama.AsyncClient:
        from app.services.ollama.client import create_client

        client = create_client(self.settings.model_copy(update={"ollama_base_url": base_url}))
        self._clients.append(client)
        return client

    def _on_settings_changed(self, _payload: str) -> None:
        self._settings_values = None

    def _on_cancel(self, job_id: str) -> None:
        job = uuid.UUID(job_id)
        run = self.running.get(job)
        if run is not None:
            self._stop(run, "cancelled")
        else:  # it may be starting here right now (claimed, not yet registered): remember it for a while
            now = time.monotonic()
            self._early_cancels = {k: t for k, t in self._early_cancels.items() if now - t < EARLY_CANCEL_MEMORY}
            self._early_cancels[job] = now

    def _stop(self, run: Run, reason: str) -> None:
        """Stop a job's GPU work (its task is cancelled, which closes its Ollama stream). A run whose task
        has not begun yet sees the reason as it begins."""
        if run.stop_reason is None and not run.finishing:
            run.stop_reason = reason
            if run.executing and run.task is not None:
                run.task.cancel()

    # ---- claiming --------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            await self.claim_available()
            if self._reserve_wanted:
                await self._reserve_ahead_of_running()
            # Compute the timeout first: a cancellation here must not strand an un-awaited wait() coroutine.
            timeout = await self._idle_timeout()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    async def _idle_timeout(self) -> float:
        """Sleep until the safety-net poll, or until the next delayed retry is due, if sooner."""
        interval = self.settings.job_processing_interval
        try:
            due = await store.next_run_at(self._pool(), self.pool)
        except DATABASE_ERRORS:
            return min(interval, 1.0)
        if due is None:
            return interval
        return max(0.0, min(interval, (due - datetime.now(UTC)).total_seconds()))

    async def claim_available(self) -> int:
        """Claim and start jobs on each host while it has a free slot and takes work. Returns how many."""
        started = 0
        async with self._claiming:
            if self._hosts_changed:
                try:
                    await self._load_hosts()
                except DATABASE_ERRORS as error:
                    log.warning("reading the hosts failed (%s); the claim loop will retry", error)
                    return 0
            for driver in list(self.drivers.values()):
                host = driver.host
                while not self._stopping and host.takes_work and self.running_on(host.name) < host.slots:
                    sent = time.monotonic()
                    try:
                        claimed = await store.claim(self._pool(), driver.slots, self.worker_id)
                    except DATABASE_ERRORS as error:
                        log.warning("claiming failed (%s); the claim loop will retry", error)
                        return started
                    if claimed is None:
                        break
                    self._start(claimed, driver, sent)
                    started += 1
        return started

    def _start(self, claimed: store.Claimed, driver: Driver, sent: float) -> Run:
        """Run a job this process just claimed on `driver`'s host; `sent`: when the statement that leased
        its slot was sent."""
        run = self._new_run(claimed, driver, sent)
        self._announce(run)
        return run

    def _new_run(self, claimed: store.Claimed, driver: Driver, sent: float, *, early: bool = False) -> Run:
        run = Run(claimed, driver, ProgressReporter(lambda event: self._progress_event(run, event)), deadline=0.0)
        if early:
            run.early, run.confirmed = True, asyncio.get_running_loop().create_future()
        self._renewed(run, sent)
        self.running[claimed.job.id] = run
        run.task = asyncio.create_task(self._run(run), name=f"job {claimed.job.id}")
        return run

    def _announce(self, run: Run) -> None:
        """The run is this slot's (claimed, handed on, or its early start confirmed): say so."""
        job = run.job
        if self._early_cancels.pop(job.id, None) is not None:
            self._stop(run, "cancelled")  # the cancel arrived between the claim's commit and now
        if self.events is not None:
            self.events.job_changed(job.id, snapshot=job)
        log.info(
            "job %s (%s, %s, %s) started on %s, attempt %d%s",
            job.id,
            job.job_type,
            job.username,
            job.model or "no model",
            run.claimed.slot,
            job.attempt,
            " (its request went out as the job before it ended)" if run.confirmed is not None else "",
        )

    # ---- the next job reserved ahead, and its early start ------------------------------------------

    def _may_reserve(self, run: Run) -> bool:
        """A run on a reserve-ahead host, of a type that may be followed by an early start, and not ending."""
        slots = run.driver.slots
        return (
            slots.reserve_ahead
            and run.job.job_type in slots.early_types
            and not (run.early or run.finishing or run.stop_reason)
        )

    async def _reserve_ahead_of_running(self) -> None:
        """A job was queued while every slot here was busy: each run here gets the job its hand-off would
        now take reserved after it (as a claim reserves) — the new job, if it is the fair next one — so
        that job's request can go out the moment the run ends rather than after FINISH, and FINISH, making
        the same pick, confirms it rather than stopping it for a fairer one."""
        self._reserve_wanted = False
        for run in [run for run in self.running.values() if self._may_reserve(run)]:
            try:
                ahead = await store.reserve_ahead(self._pool(), run.driver.slots, run.job)
            except DATABASE_ERRORS as error:
                log.warning("reserving the next job failed (%s); FINISH will pick it", error)
                return
            # A run that ended meanwhile has had its chance; FINISH may still hand its slot to that job.
            if self._may_reserve(run) and self.running.get(run.job.id) is run:
                run.claimed = dataclasses.replace(run.claimed, ahead=ahead)

    def _start_early(self, run: Run) -> Run | None:
        """`run` ended, its outcome not yet written: start the job reserved to follow it now, unless there is
        none, it was cancelled, or the slot's lease (and with it the reservation) may have run out."""
        job = run.claimed.ahead
        if job is None or self._stopping or job.id in self.running:
            return None  # (a job running here is not started twice)
        if run.deadline - time.monotonic() < self.ttl / 3:
            # A heartbeat is overdue (the database is slow or away, or this process stalled): the borrowed lease
            # may run out before FINISH could confirm the start, which would then be stopped and its work lost.
            return None
        too_late = job.queue_deadline is not None and job.queue_deadline <= datetime.now(UTC)
        if job.id in self._early_cancels or too_late:
            return None  # cancelled, or too late, while it was reserved: FINISH will not hand it the slot
        predicted = dataclasses.replace(
            job,
            status=JobStatus.RUNNING,
            attempt=job.attempt + 1,
            worker_id=self.worker_id,
            host=run.driver.host.name,
        )
        # Covered by the slot's lease as last renewed for `run`: stopped at its deadline unless confirmed.
        return self._new_run(store.Claimed(predicted, run.claimed.slot), run.driver, run.deadline_sent, early=True)

    def _settle_early(self, early: Run, handed: store.Claimed | None, sent: float) -> bool:
        """FINISH handed the slot to `handed` (sent at `sent`): confirm the early start if it is that job,
        else stop it. True if confirmed."""
        assert early.confirmed is not None
        if handed is None or handed.job.id != early.job.id or handed.job.attempt != early.job.attempt:
            early.confirmed.set_result(False)
            self._stop(early, "unconfirmed")
            return False
        early.claimed, early.early = handed, False
        early.confirmed.set_result(True)
        self._renewed(early, sent)
        # Announced first: its `running` update resets what Socket.IO has sent of its text, so the held
        # tokens must follow it (sent before, they would be sent again from offset 0 and then cut off).
        self._announce(early)
        for event in early.held:
            self._progress_event(early, event)
        early.held.clear()
        return True

    # ---- running one job -------------------------------------------------------------------------

    async def _run(self, run: Run) -> None:
        outcome = await self._execute(run)
        run.finishing = True
        if run.watchdog is not None:
            run.watchdog.cancel()
        if run.confirmed is not None and not await run.confirmed:
            # An early start whose slot went to another job: it was never this slot's; nothing to record.
            if self.running.get(run.job.id) is run:
                del self.running[run.job.id]
            log.info("job %s: %s (the slot went to another job); it stays queued", run.job.id, EARLY_START_STOPPED)
            return
        finished: store.Finished | None = None
        hand_on = False
        early: Run | None = None
        queued_seen = self._queued_seen
        if outcome is not None:
            # A run that lost its lease hands nothing on: its slot may no longer be ours.
            hand_on = not self._stopping and outcome.kind != "requeue" and run.stop_reason != "lease_lost"
            if hand_on:  # the reserved job's request goes out now (its task first), while the outcome is written
                early = self._start_early(run)
            write = asyncio.ensure_future(self._write_outcome(run, outcome, hand_on, keep_slot=early is not None))
            self._writes.add(write)
            write.add_done_callback(self._writes.discard)
            # The write goes on even if this task is cancelled now (shutdown): a finished job stays finished.
            finished = await asyncio.shield(write)
        job = run.job
        self.running.pop(job.id, None)
        handed = finished.next if finished is not None else None
        next_run = early if early is not None and self._settle_early(early, handed, run.deadline_sent) else None
        if early is not None and next_run is None:
            assert early.task is not None
            await asyncio.wait({early.task})  # its request is closed before the chosen job's goes out
            if handed is None and finished is not None and finished.job is not None:
                await self._give_back_slot(run)  # FINISH kept it while that request was open
                self._wake.set()  # the slot is free now: the claim loop looks for work
        if handed is not None and (early is None or early.claimed is not handed):
            next_run = self._start(handed, run.driver, run.deadline_sent)  # FINISH took its lease
        elif (
            handed is None
            and not self._stopping
            and (
                not (hand_on and finished is not None and finished.job is not None)
                or outcome.kind == "retry"  # type: ignore[union-attr]
                or self._queued_seen != queued_seen
            )
        ):
            # The slot is free and the finishing statement did not look for a next job (or could not
            # write), or a retry is now due later, or a job came while it was under way (its NOTIFY found
            # no room here, and it may have been too late for the statement's snapshot): the claim loop
            # looks (and sleeps until a retry is due). Otherwise a new job's NOTIFY wakes the loop.
            self._wake.set()
        if next_run is not None and self._queued_seen != queued_seen and self._may_reserve(next_run):
            # A job came while FINISH was under way (too late for its snapshot, while no run here could take
            # a reservation): the claim loop reserves it to follow the job just started.
            self._reserve_wanted = True
            self._wake.set()
        if self.hub is not None:  # its outcome is in the job row now, and here is the row as written
            self.hub.publish(job.id, {"ended": True, "job": finished.job if finished else None})
        if self.events is not None:  # after the next job started: the GPU does not wait on Socket.IO
            self.events.job_changed(job.id, snapshot=finished.job if finished else None)
        self._log_end(run, outcome, finished)

    async def _execute(self, run: Run) -> store.Outcome | None:
        """Run the job type; the outcome to write (None: the lease was lost, write nothing)."""
        job, progress = run.job, run.progress
        run.executing = True
        if run.stop_reason is not None:  # stopped before it began (a cancel that came with the claim)
            return self._after_stop(run)
        kind = self.job_types.get(job.job_type)
        try:
            if kind is None:
                raise PermanentError(f"Unknown job type {job.job_type!r}.")
            request = kind.parse(job.request_data)
            context = JobContext(
                job=job,
                ollama=run.driver.ollama,
                progress=progress,
                engine=self.engine,
                db=self.db,
                coordinate_loads=run.driver.host.slots > 1,
                default_model=await self._default_model(job),
                settings=self.settings,
                worker_id=self.worker_id,
            )
            async with asyncio.timeout(job.timeout_seconds):
                result = await kind.run(context, request)
            if context.load_seconds and isinstance(result.get("load_duration"), int | float):
                # The model was loaded by a request of its own first: the run's cost includes it (learned
                # per host and model, like a load inside the generation).
                result = {**result, "load_duration": result["load_duration"] + int(context.load_seconds * 1e9)}
        except asyncio.CancelledError:
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            return self._after_stop(run)
        except TimeoutError:
            message = f"Timed out after {job.timeout_seconds:g}s."
            return store.Outcome("failed", progress=progress.state, message=message, error_kind="timeout")
        except Exception as error:
            return self._after_error(job, error, progress)
        progress.update(percent=100, message="done")
        return store.Outcome("completed", result=result, progress=progress.state)

    def _after_stop(self, run: Run) -> store.Outcome | None:
        if run.stop_reason == "unconfirmed":
            return None  # an early start FINISH did not confirm: nothing of it is written
        if run.stop_reason == "shutdown":
            return store.Outcome("requeue", message="re-queued: worker shutting down")
        if run.stop_reason == "lease_lost":
            # Its GPU work stopped before the lease could run out; put it back in the queue now (fenced by
            # the attempt: if the rescuer or another worker has it already, this writes nothing) rather
            # than leaving it `running` until the rescuer's grace has passed.
            return store.Outcome(
                "retry",
                progress=run.progress.state,
                message="Its GPU lease was not renewed in time (the database was unreachable or the worker "
                "stalled); it was stopped and re-queued.",
            )
        return store.Outcome("cancelled", progress=run.progress.state, message="Cancelled on request.")

    def _after_error(self, job: store.Job, error: Exception, progress: ProgressReporter) -> store.Outcome:
        known: JobError | None = classify(error)
        if known is None:
            log.exception("job %s: unexpected error in its job type", job.id, exc_info=error)
            known = PermanentError(f"Internal error: {type(error).__name__}: {error}")
        if isinstance(known, TransientError) and job.retry_count < job.max_retries:
            delay = retry_delay(
                job.retry_count, base=self.settings.retry_backoff_base, cap=self.settings.retry_backoff_max
            )
            return store.Outcome("retry", message=str(known), delay=delay)
        if isinstance(known, TransientError):
            known = TransientError(f"{known} (gave up after {job.retry_count} retries)")
        return store.Outcome("failed", progress=progress.state, message=str(known), error_kind=known.kind)

    async def _give_back_slot(self, run: Run) -> None:
        try:
            await store.release_leases(self._pool(), run.job.id, run.job.attempt)
        except DATABASE_ERRORS as error:  # it expires with the TTL instead
            log.warning("job %s: could not give its slot back (%s); it frees when its lease expires", run.job.id, error)

    async def _write_outcome(
        self, run: Run, outcome: store.Outcome, hand_on: bool, *, keep_slot: bool = False
    ) -> store.Finished | None:
        """Write the outcome, retrying while the database is unreachable: the write is fenced by the
        attempt, so it is safe until the job could have been rescued (its lease expired past the grace)."""
        give_up = run.deadline + fence_margin(self.ttl) + self.grace
        delay = 0.1
        while True:
            sent = time.monotonic()
            try:
                finished = await store.finish(
                    self._pool(),
                    run.claimed,
                    outcome,
                    worker_id=self.worker_id,
                    slots=run.driver.slots,
                    hand_on=hand_on,
                    keep_slot=keep_slot,
                )
                run.deadline_sent = sent  # the hand-off's lease for the next job dates from this statement
                return finished
            except DATABASE_ERRORS as error:
                if time.monotonic() + delay > give_up:
                    log.error(
                        "job %s: could not record its outcome (%s) before its lease ran out; it will run again",
                        run.job.id,
                        error,
                    )
                    return None
                log.warning("job %s: recording its outcome failed (%s); retrying in %.1fs", run.job.id, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _log_end(self, run: Run, outcome: store.Outcome | None, finished: store.Finished | None) -> None:
        job = run.job
        if outcome is None:
            log.warning("job %s stopped: its lease ran out here and it may run elsewhere", job.id)
        elif finished is None or finished.job is None:
            log.warning("job %s ended (%s), but it was no longer ours: outcome not recorded", job.id, outcome.kind)
        else:
            log.info("job %s %s%s", job.id, finished.job.status, f": {outcome.message}" if outcome.message else "")

    async def _default_model(self, job: store.Job) -> str:
        """For a request that names no model: the user's own default (their deployed training run), else
        the active model, else DEFAULT_MODEL. Settings are cached and reloaded when they change."""
        if job.request_data.get("model"):
            return self.settings.default_model  # not used: the request names its model
        if self._settings_values is None:
            async with self.engine.connect() as conn:
                self._settings_values = await system_settings.get_all(conn)
        return system_settings.default_model_for(self._settings_values, job.user_id, self.settings.default_model)

    def _progress_event(self, run: Run, event: dict[str, Any]) -> None:
        """Every progress update (each token) goes to in-process followers and Socket.IO clients (an early
        start's, once it is confirmed)."""
        if run.early:
            run.held.append(event)
            return
        job = run.job
        if self.hub is not None:  # with its attempt: a follower must not glue two attempts' answers together
            self.hub.publish(job.id, {**event, "attempt": job.attempt})
        if self.events is not None:
            self.events.job_progress(job, event)

    # ---- leases: renewal and self-fencing ----------------------------------------------------------

    def _renewed(self, run: Run, sent: float) -> None:
        """The run's lease was renewed by a statement sent at `sent`: move its deadline."""
        run.deadline_sent = sent
        run.deadline = sent + self.ttl - fence_margin(self.ttl)
        if run.watchdog is not None:
            run.watchdog.cancel()
        loop = asyncio.get_running_loop()
        run.watchdog = loop.call_at(loop.time() + (run.deadline - time.monotonic()), self._deadline_passed, run)

    def _deadline_passed(self, run: Run) -> None:
        if time.monotonic() >= run.deadline and self.running.get(run.job.id) is run:
            log.warning("job %s: its lease was not renewed in time; stopping its GPU work", run.job.id)
            self._stop(run, "lease_lost")

    async def _heartbeat_loop(self) -> None:
        """Renew every lease of this processor every third of the TTL, in one statement. A run whose
        lease is not among the renewed was lost (stop it); a run whose cancel was asked is stopped."""
        interval = self.ttl / 3
        while True:
            await asyncio.sleep(interval)
            # Not a run that stopped for a lost lease: its slot may be someone else's already.
            # Nor an early start: its lease is the finishing run's until FINISH hands it on.
            asked = [run for run in self.running.values() if run.stop_reason != "lease_lost" and not run.early]
            if not asked:
                continue
            sent = time.monotonic()
            try:
                renewed = await asyncio.wait_for(
                    store.heartbeat(self._pool(), self.worker_id, self.ttl, [(r.job.id, r.job.attempt) for r in asked]),
                    timeout=interval,
                )
            except DATABASE_ERRORS as error:
                log.warning("heartbeat failed (%s): running jobs stop at their lease deadline unless it returns", error)
                continue
            self._judge_heartbeat(asked, renewed, sent)

    def _judge_heartbeat(self, asked: list[Run], renewed: list[store.Renewal], sent: float) -> None:
        """After a heartbeat sent at `sent` for the runs `asked`: move the deadline of each renewed one (and
        stop it if its cancel was asked); stop one whose lease is gone. Only the runs it asked about: a run
        that started while it was in flight (a hand-off, a claim) was not asked, so not renewed — that says
        nothing about its lease (the chaos run found such runs stopped a moment after they started)."""
        held = {(renewal.job_id, renewal.attempt): renewal for renewal in renewed}
        for run in asked:
            if self.running.get(run.job.id) is not run:
                continue  # ended meanwhile
            renewal = held.get((run.job.id, run.job.attempt))
            if renewal is not None:
                self._renewed(run, sent)
                if renewal.cancel_requested:
                    self._stop(run, "cancelled")
            elif run.deadline_sent < sent and not run.finishing:
                log.warning("job %s: its lease is gone (force-released or expired)", run.job.id)
                self._stop(run, "lease_lost")

    async def _progress_loop(self) -> None:
        """Write the progress of every running job that changed, in one statement per interval."""
        while True:
            await asyncio.sleep(self.settings.progress_write_interval)
            updates = []
            for run in self.running.values():
                if run.early:  # not taken: its progress is written once it is confirmed
                    continue
                state = run.progress.take()
                if state is not None and not run.finishing:
                    updates.append((run.job.id, run.job.attempt, state))
            if not updates:
                continue
            try:
                await store.write_progress(self._pool(), updates)
            except DATABASE_ERRORS as error:
                log.warning("writing progress failed (%s); the next interval writes it again", error)
                for run in self.running.values():
                    run.progress.changed = True
