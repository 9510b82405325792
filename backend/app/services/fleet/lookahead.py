"""Look-ahead loading: the queue shows demand before it reaches a GPU. When a host is idle and queued work
needs a model that no idle host has loaded (its jobs wait for a busy host that has it), the host loads
that model ahead of time — as a normal `model.load` job pinned to it, through its slot, so a load never
overlaps a generation — and the jobs then find it warm.

A background service: `run_once()` looks once (tests call it); `run()` repeats it. Off with SCHEDULER=fifo.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from app.services.queue import sql, store

log = logging.getLogger(__name__)

LOOK_AHEAD_USER = "aijobs"  # whose jobs the look-ahead loads are (the lock shows "aijobs (look-ahead)")
MIN_QUEUED = 2  # one queued job is for the warm host to take next; more is demand it cannot absorb soon
SETTLE_SECONDS = 1.0  # a job this young may just not have been claimed yet


class LookAhead:
    def __init__(self, db: asyncpg.Pool, *, interval: float, pool: str = "gpu") -> None:
        self._db = db
        self.interval = interval
        self._pool = pool

    async def run_once(self) -> store.Job | None:
        """Queue one look-ahead load if some idle host should load a model now; the load job, or None."""
        found = await sql.LOOK_AHEAD.fetchrow(self._db, pool=self._pool, settle=SETTLE_SECONDS, min_queued=MIN_QUEUED)
        if found is None:
            return None
        host, model, queued = found["host"], found["model"], found["queued"]
        new = store.NewJob(
            user_id=LOOK_AHEAD_USER,
            username=f"{LOOK_AHEAD_USER} (look-ahead)",
            job_type="model.load",
            request_data={"model": model},
            model=model,
            requires=(f"host:{host}",),
            pool=self._pool,
            details=f"Loading {model} on {host} ahead of {queued} queued job(s)",
            max_retries=0,
            # two processors looking at once queue one load
            idempotency_key=f"look-ahead:{host}:{model}:{int(time.time() // 60)}",
        )
        enqueued = await store.enqueue(self._db, new, quota=1_000_000)
        if enqueued.created:
            log.info("look-ahead: %s loads %s for %d queued job(s)", host, model, queued)
        return enqueued.job if enqueued.created else None

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("look-ahead skipped (%s)", error)
            await asyncio.sleep(self.interval)
