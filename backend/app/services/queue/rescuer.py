"""The rescuer: gives back the jobs of workers that died (their lease expired, plus a grace) and sweeps
expired leases.

A background service: `run_once()` does one pass (tests call it directly); `run()` repeats it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

import asyncpg

from app.services.queue import store

log = logging.getLogger(__name__)


class Rescuer:
    def __init__(
        self,
        db: asyncpg.Pool,
        *,
        interval: float,
        on_moved: Callable[[uuid.UUID], None] | None = None,
    ) -> None:
        self._db = db
        self.interval = interval
        self._on_moved = on_moved  # told of each job it re-queued or failed (Socket.IO clients see it)

    async def run_once(self) -> int:
        """Re-queue (or fail) running jobs whose lease expired longer ago than its grace (the runner may
        still be stopping until then) and sweep such leases. Returns how many jobs it moved."""
        rescued = await store.rescue_lost_jobs(self._db)
        for job_id, status in rescued:
            log.warning("job %s lost its worker (lease expired): now %s", job_id, status)
            if self._on_moved is not None:
                self._on_moved(job_id)
        return len(rescued)

    async def run(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval)
