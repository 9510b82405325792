"""The rescuer: gives back the jobs of workers that died, and fails jobs that waited too long."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.queue import store

log = logging.getLogger(__name__)


class Rescuer:
    def __init__(
        self, engine: AsyncEngine, interval: float, on_moved: Callable[[uuid.UUID], None] | None = None
    ) -> None:
        self._engine = engine
        self.interval = interval
        self._on_moved = on_moved  # told of each job it re-queued or failed (Socket.IO clients see it)

    async def run_once(self) -> int:
        """Re-queue (or fail) running jobs whose lease expired, sweep expired leases, expire queued
        jobs past their queue deadline. Returns how many jobs it moved."""
        async with self._engine.begin() as conn:
            rescued = await store.rescue_lost_jobs(conn)
            expired = await store.expire_queued_jobs(conn)
        for job_id, status in rescued:
            log.warning("job %s lost its worker (lease expired): now %s", job_id, status)
            if self._on_moved is not None:
                self._on_moved(uuid.UUID(str(job_id)))
        if expired:
            log.info("%d queued job(s) passed their queue deadline and failed", len(expired))
        if self._on_moved is not None:
            for job_id in expired:
                self._on_moved(job_id)
        return len(rescued) + len(expired)

    async def run(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval)


class Retention:
    """Deletes finished jobs older than JOB_CLEANUP_DAYS, hourly; never queued or running ones."""

    def __init__(self, engine: AsyncEngine, days: float, interval: float = 3600.0) -> None:
        self._engine = engine
        self.days = days
        self.interval = interval

    async def run_once(self) -> int:
        async with self._engine.begin() as conn:
            deleted = await store.delete_old_jobs(conn, self.days)
        if deleted:
            log.info("retention: deleted %d finished job(s) older than %g days", deleted, self.days)
        return deleted

    async def run(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval)
