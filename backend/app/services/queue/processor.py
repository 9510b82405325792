"""The processor: claims jobs under the GPU slot cap, runs their handlers, writes the outcome.

It holds no SQL (that is `store.py`/`sql.py`) and no job-type logic (that is the handlers).
Runs inside the API process (lifespan) or alone as `aijobs worker`; any number of processors on
any number of machines share the database, and the slot leases keep the GPU cap global.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ollama
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.services.job_types import JOB_TYPES
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


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class RunningJob:
    job: store.Job
    task: asyncio.Task[None] | None = None
    stop_reason: str | None = None  # why we cancelled its task: cancelled · lease_lost · shutdown
    progress: ProgressReporter | None = field(default=None, repr=False)


class Processor:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        database_url: str,
        job_types: dict[str, JobType] | None = None,
        pool: str = "gpu",
        hub: ProgressHub | None = None,
        events: Events | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.hub = hub  # in-process listeners to running jobs' progress
        self.events = events  # Socket.IO clients, in any process
        self.pool = pool
        self.capacity = settings.max_concurrent_jobs
        self.worker_id = new_worker_id()
        self.job_types = job_types if job_types is not None else JOB_TYPES
        self.ollama: ollama.AsyncClient | None = None
        self.running: dict[uuid.UUID, RunningJob] = {}
        self.listener = Listener(database_url)
        sweep_interval = max(0.2, min(settings.lease_ttl_seconds / 2, 10.0))
        on_moved = events.job_changed if events else None
        self.rescuer = Rescuer(engine, interval=sweep_interval, on_moved=on_moved)
        self.deadlines = DeadlineSweeper(engine, interval=sweep_interval, on_moved=on_moved)
        self.cleaner = Cleaner(engine, days=settings.job_cleanup_days)
        self._tasks = TaskGroup()
        self._wake = asyncio.Event()
        self._claiming = asyncio.Lock()  # the claim loop and a job's hand-off take turns
        self._stopping = False
        self._started = False

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        from app.services.ollama.client import create_client

        self.ollama = create_client(self.settings)
        self.listener.listen(sql.CHANNEL_JOB_QUEUED, self._on_pool_event)
        self.listener.listen(sql.CHANNEL_SLOT_FREED, self._on_pool_event)
        self.listener.listen(sql.CHANNEL_JOB_CANCEL, self._on_cancel)
        self.listener.on_connect(self._wake.set)  # notifications missed while disconnected: look again
        self._tasks.spawn("listener", self.listener.run)
        self._tasks.spawn("rescuer", self.rescuer.run)
        self._tasks.spawn("deadlines", self.deadlines.run)
        self._tasks.spawn("cleaner", self.cleaner.run)
        self._tasks.spawn("claim_loop", self._claim_loop)
        self._started = True
        log.info("processor %s started: pool %s, %d GPU slot(s)", self.worker_id, self.pool, self.capacity)

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let running jobs finish for `grace` seconds; then cancel and re-queue them."""
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        self._stopping = True
        self._wake.set()
        tasks = [running.task for running in self.running.values() if running.task]
        if tasks:
            log.info("waiting up to %.0fs for %d running job(s)", grace, len(tasks))
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for running in list(self.running.values()):
                if running.task in pending:
                    self._stop_job(running, "shutdown")
            if pending:
                await asyncio.wait(pending)
        await self._tasks.cancel_all()
        if self.ollama is not None:
            await self.ollama._client.aclose()
        self._started = False
        log.info("processor %s stopped", self.worker_id)

    def health(self) -> dict[str, Any]:
        tasks = self._tasks.health()
        return {
            "running": self._started and not self._stopping and all(t["alive"] for t in tasks.values()),
            "worker_id": self.worker_id,
            "active_jobs": len(self.running),
            "max_concurrent_jobs": self.capacity,
            "processing_interval": self.settings.job_processing_interval,
            "listening": self.listener.connected.is_set(),
            "background_tasks": tasks,
        }

    # ---- wake-ups --------------------------------------------------------------------------------

    def _on_pool_event(self, pool: str) -> None:
        if pool == self.pool:
            self._wake.set()

    def _on_cancel(self, job_id: str) -> None:
        running = self.running.get(uuid.UUID(job_id))
        if running is not None:
            self._stop_job(running, "cancelled")

    def _stop_job(self, running: RunningJob, reason: str) -> None:
        if running.task is not None and running.stop_reason is None:
            running.stop_reason = reason
            running.task.cancel()

    # ---- claiming --------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            await self.claim_available()
            # Compute the timeout first: a cancellation here must not strand an un-awaited wait() coroutine.
            timeout = await self._idle_timeout()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except TimeoutError:
                pass

    async def _idle_timeout(self) -> float:
        """Sleep until the safety-net poll, or until the next delayed retry is due, if sooner."""
        interval = self.settings.job_processing_interval
        async with self.engine.connect() as conn:
            due = await store.next_run_at(conn, self.pool)
        if due is None:
            return interval
        return max(0.0, min(interval, (due - datetime.now(UTC)).total_seconds()))

    async def claim_available(self) -> int:
        """Claim and start jobs while this process has room and a slot is free. Returns how many."""
        started = 0
        async with self._claiming:
            while not self._stopping and len(self.running) < self.capacity:
                async with self.engine.begin() as conn:
                    job = await store.claim(
                        conn,
                        pool=self.pool,
                        capacity=self.capacity,
                        worker_id=self.worker_id,
                        ttl=self.settings.lease_ttl_seconds,
                        describe=self._describe,
                    )
                if job is None:
                    break
                self._start(job)
                started += 1
        return started

    def _describe(self, job_type: str, _request: dict[str, Any], details: str | None) -> store.SlotHolder:
        handler = self.job_types.get(job_type)
        return store.SlotHolder(operation=handler.operation if handler else job_type, details=details)

    def _start(self, job: store.Job) -> None:
        running = RunningJob(job=job)
        self.running[job.id] = running
        running.task = asyncio.create_task(self._run(running), name=f"job {job.id}")
        if self.events is not None:
            self.events.job_changed(job.id, snapshot=job)
        log.info("job %s (%s, user %s) started, attempt %d", job.id, job.job_type, job.username, job.attempt)

    # ---- running one job -------------------------------------------------------------------------

    async def _run(self, running: RunningJob) -> None:
        job = running.job
        running.progress = ProgressReporter(
            lambda state: self._write(store.update_progress, job, state),
            self.settings.progress_write_interval,
            listener=lambda event: self._progress_listeners(job, event),
        )
        helpers = [
            asyncio.create_task(self._heartbeat(running), name=f"heartbeat {job.id}"),
            asyncio.create_task(running.progress.run(), name=f"progress {job.id}"),
        ]
        try:
            await self._execute(running)
        finally:
            for helper in helpers:
                helper.cancel()
            self.running.pop(job.id, None)
            if self.hub is not None:
                self.hub.publish(job.id, {"ended": True})  # its outcome is in the job row now
        await self._hand_off()
        # Told after the next job is claimed: the GPU should not wait on a Socket.IO update.
        if self.events is not None:
            self.events.job_changed(job.id)

    def _progress_listeners(self, job: store.Job, event: dict[str, Any]) -> None:
        """Every progress update (each token) goes to in-process followers and Socket.IO clients."""
        if self.hub is not None:
            self.hub.publish(job.id, event)
        if self.events is not None:
            self.events.job_progress(job, event)

    async def _hand_off(self) -> None:
        """Claim the next job straight away from the task that just freed the slot: going through the
        claim loop would cost an extra wake-up, and the GPU should not sit idle."""
        if self._stopping:
            return
        try:
            await self.claim_available()
        except (OSError, DBAPIError, OperationalError) as error:
            log.warning("claiming the next job failed (%s); the claim loop will retry", error)
            self._wake.set()

    async def _execute(self, running: RunningJob) -> None:
        job, progress = running.job, running.progress
        assert progress is not None and self.ollama is not None
        handler = self.job_types.get(job.job_type)
        try:
            if handler is None:
                raise PermanentError(f"Unknown job type {job.job_type!r}.")
            request = handler.parse(job.request_data)
            async with asyncio.timeout(job.timeout_seconds):
                result = await handler.run(
                    JobContext(
                        job=job,
                        ollama=self.ollama,
                        progress=progress,
                        engine=self.engine,
                        coordinate_loads=self.capacity > 1,
                        default_model=await self._default_model(job),
                        settings=self.settings,
                    ),
                    request,
                )
        except asyncio.CancelledError:
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            await self._after_stop(running)
            return
        except TimeoutError:
            await self._fail(job, f"Timed out after {job.timeout_seconds:g}s.", "timeout", progress)
            return
        except Exception as error:
            await self._after_error(job, error, progress)
            return
        progress.state.update(percent=100, message="done")
        if await self._write(store.complete, job, self.worker_id, result, progress.state):
            log.info("job %s completed", job.id)
        else:
            log.warning("job %s finished, but its lease was lost meanwhile: result discarded", job.id)

    async def _default_model(self, job: store.Job) -> str:
        """For a request that names no model: the active model (set by a deployed training run)."""
        if job.request_data.get("model"):
            return self.settings.default_model  # not used: the request names its model
        async with self.engine.connect() as conn:
            return await system_settings.active_model(conn, self.settings.default_model)

    async def _after_stop(self, running: RunningJob) -> None:
        job, progress = running.job, running.progress
        assert progress is not None
        if running.stop_reason == "shutdown":
            await self._write(store.requeue, job, self.worker_id)
            log.info("job %s re-queued: worker shutting down", job.id)
        elif running.stop_reason == "lease_lost":
            log.warning("job %s stopped: its lease expired and it may run elsewhere", job.id)
        else:
            await self._write(store.mark_cancelled, job, self.worker_id, "Cancelled on request.", progress.state)
            log.info("job %s cancelled", job.id)

    async def _after_error(self, job: store.Job, error: Exception, progress: ProgressReporter) -> None:
        known: JobError | None = classify(error)
        if known is None:
            log.exception("job %s: unexpected error in handler", job.id, exc_info=error)
            known = PermanentError(f"Internal error: {type(error).__name__}: {error}")
        if isinstance(known, TransientError) and job.retry_count < job.max_retries:
            delay = retry_delay(
                job.retry_count, base=self.settings.retry_backoff_base, cap=self.settings.retry_backoff_max
            )
            await self._write(store.schedule_retry, job, self.worker_id, str(known), delay)
            log.info("job %s: %s; retry %d in %.2fs", job.id, known, job.retry_count + 1, delay)
            return
        if isinstance(known, TransientError):
            known = TransientError(f"{known} (gave up after {job.retry_count} retries)")
        await self._fail(job, str(known), known.kind, progress)

    async def _fail(self, job: store.Job, message: str, kind: str, progress: ProgressReporter) -> None:
        await self._write(store.fail, job, self.worker_id, message, kind, progress.state)
        log.info("job %s failed (%s): %s", job.id, kind, message)

    async def _heartbeat(self, running: RunningJob) -> None:
        """Renew the job's leases every third of the TTL; stop the job if they were lost or it was
        cancelled (the NOTIFY may have been missed)."""
        interval = self.settings.lease_ttl_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.engine.begin() as conn:
                    held, cancel_requested = await store.heartbeat(conn, running.job, self.settings.lease_ttl_seconds)
                if running.progress is not None:
                    await running.progress.flush()
            except (OSError, DBAPIError, OperationalError) as error:
                log.warning("heartbeat of job %s failed: %s", running.job.id, error)
                continue
            if not held:
                self._stop_job(running, "lease_lost")
            elif cancel_requested:
                self._stop_job(running, "cancelled")

    async def _write(self, operation: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run one queue write in its own transaction, retrying briefly if the database blips.
        If it never succeeds, the lease expires and the rescuer re-queues the job: nothing is lost."""
        for attempt in range(3):
            try:
                async with self.engine.begin() as conn:
                    return await operation(conn, *args)
            except (OSError, DBAPIError, OperationalError) as error:
                log.warning("database write failed (%s); attempt %d of 3", error, attempt + 1)
                await asyncio.sleep(0.5 * (attempt + 1))
        return False
