"""What Socket.IO clients are told, and when: `job:update`, `job:progress` and `lock:update`.

Callers (the processor, the API routes) only say *what changed*; they never wait. Two tasks do the
sending: one sends job events in the order they happened (so a job's progress never arrives after
its final status), the other sends the GPU lock state, coalesced, at most every `LOCK_INTERVAL`.

Rooms: `user:<id>` (every client of that user), `admins`, `job:<id>` (clients that subscribed to
the job). `lock:update` goes to everyone: anyone may see who holds the GPU.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from app.schemas.jobs import JobView
from app.services.fleet import views as fleet_views
from app.services.leases import gpu
from app.services.queue import store, submissions, views

log = logging.getLogger(__name__)

# emit(event, data, rooms): rooms None means every connected client.
Emit = Callable[[str, dict[str, Any], list[str] | None], Awaitable[Any]]

LOCK_INTERVAL = 0.1  # seconds between two lock:update events, at most
REMEMBERED_JOBS = 10_000  # jobs whose last update time is kept to drop stale updates
# Pieces of streamed text in a progress update: appended, never sent as a field (the text is sent
# gathered, with its offset; reasoning is for the drop-in fronts, which read it from the hub or the row).
DELTAS = ("text_delta", "thinking_delta")


def job_rooms(job_id: uuid.UUID | str, user_id: str) -> list[str]:
    return [f"user:{user_id}", "admins", f"job:{job_id}"]


@dataclass
class _PendingProgress:
    """Progress of one job gathered since its last `job:progress` event."""

    user_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    sent_chars: int = 0  # text characters already sent, so a client can tell it missed a chunk
    timer: asyncio.TimerHandle | None = None


class Events:
    def __init__(
        self,
        emit: Emit,
        db: asyncpg.Pool,
        *,
        capacity: int,
        pool: str = "gpu",
        progress_interval: float = 0.1,
    ) -> None:
        self._emit = emit
        self._db = db
        self._capacity = capacity
        self._pool = pool
        self._progress_interval = progress_interval
        self._job_events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        # When each job's last job:update was written (its row's updated_at): an older snapshot that
        # arrives later (a submission announced after its job already started) is not sent.
        self._last_sent: OrderedDict[uuid.UUID, datetime] = OrderedDict()
        self._progress: dict[uuid.UUID, _PendingProgress] = {}
        self._lock_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._send_job_events(), name="events: jobs"),
            asyncio.create_task(self._send_lock_updates(), name="events: lock"),
        ]

    async def stop(self, grace: float = 5.0) -> None:
        """Send what is pending (a worker stopping must not swallow a job's last update), then stop."""
        for job_id in list(self._progress):
            self._queue_progress(job_id)
        try:
            await asyncio.wait_for(self._job_events.join(), grace)
        except TimeoutError:
            log.warning("%d job event(s) not sent before shutdown", self._job_events.qsize())
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- what callers say ------------------------------------------------------------------------

    def job_changed(self, job_id: uuid.UUID, snapshot: store.Job | None = None, status: JobView | None = None) -> None:
        """The job's status changed: send `job:update` after any progress still pending for it; the
        lock may have changed too. The update is read from the job's row when it is sent, unless the
        caller has it already: `snapshot` (the job as just written) and, for a queued job, `status`
        (with its position and ETA, which cost a count over the queue to work out again)."""
        if job_id in self._progress:
            self._queue_progress(job_id)
            self._progress.pop(job_id, None)
        self._job_events.put_nowait(("update", (job_id, snapshot, status)))
        self.lock_changed()

    def job_submitted(self, submitted: submissions.Submitted) -> None:
        """A new job: its update carries the position and ETA the submission worked out, if it did (else
        the update is read when it is sent, off the submitting request's path)."""
        if not submitted.created:
            return
        job = submitted.job
        if submitted.lock is None:
            self.job_changed(job.id)
        else:
            self.job_changed(job.id, job, views.status_view(job, submitted.position, submitted.eta_seconds))

    def job_progress(self, job: store.Job, update: dict[str, Any]) -> None:
        """A handler reported progress (called per token: gathered and sent every interval)."""
        pending = self._progress.get(job.id)
        if pending is None:
            pending = self._progress[job.id] = _PendingProgress(user_id=job.user_id)
        delta = update.get("text_delta")
        pending.text += delta or ""
        pending.fields.update({k: v for k, v in update.items() if k not in DELTAS and v is not None})
        if pending.timer is None:
            loop = asyncio.get_running_loop()
            pending.timer = loop.call_later(self._progress_interval, self._queue_progress, job.id)

    def lock_changed(self) -> None:
        self._lock_changed.set()

    # ---- sending ---------------------------------------------------------------------------------

    def _queue_progress(self, job_id: uuid.UUID) -> None:
        pending = self._progress.get(job_id)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
            pending.timer = None
        if not pending.text and not pending.fields:
            return
        payload = {"job_id": str(job_id), **pending.fields, "text": pending.text, "offset": pending.sent_chars}
        pending.sent_chars += len(pending.text)
        pending.text, pending.fields = "", {}
        self._job_events.put_nowait(("progress", (pending.user_id, payload)))

    async def _send_job_events(self) -> None:
        while True:
            kind, args = await self._job_events.get()
            try:
                if kind == "progress":
                    user_id, payload = args
                    await self._emit("job:progress", payload, job_rooms(payload["job_id"], user_id))
                else:
                    await self._send_job_update(*args)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("could not send a job event (%s); clients catch up from the status endpoint", error)
            except Exception:
                log.exception("could not send a job event")
            finally:
                self._job_events.task_done()

    async def _send_job_update(self, job_id: uuid.UUID, snapshot: store.Job | None, status: JobView | None) -> None:
        if snapshot is not None:
            job, status = snapshot, status or views.status_view(snapshot)
        else:
            current = await views.current_status(self._db, job_id, self._capacity)
            if current is None:
                return  # deleted meanwhile
            job, status = current
        if not self._newer(job):
            return
        await self._emit("job:update", status.model_dump(mode="json"), job_rooms(job_id, job.user_id))

    def _newer(self, job: store.Job) -> bool:
        """Whether `job` is a later state than the last one sent for it (and remember it if so)."""
        last = self._last_sent.get(job.id)
        if last is not None and job.updated_at < last:
            return False
        self._last_sent[job.id] = job.updated_at
        self._last_sent.move_to_end(job.id)
        if len(self._last_sent) > REMEMBERED_JOBS:
            self._last_sent.popitem(last=False)
        return True

    async def _send_lock_updates(self) -> None:
        while True:
            await self._lock_changed.wait()
            self._lock_changed.clear()  # a change from now on triggers the next update
            started = time.monotonic()
            try:
                lock = await gpu.gpu_lock(self._db, self._pool, self._capacity)
                hosts = await fleet_views.host_views(self._db, show_urls=False)
                await self._emit("lock:update", views.lock_view(lock, hosts).model_dump(mode="json"), None)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("could not send the lock state (%s)", error)
            except Exception:  # keep the loop alive: the next change sends the state again
                log.exception("could not send the lock state")
            await asyncio.sleep(max(0.0, LOCK_INTERVAL - (time.monotonic() - started)))
