"""Retention: deletes finished jobs older than JOB_CLEANUP_DAYS, hourly; never queued or running ones.

A background service: `run_once()` does one pass (tests and the admin endpoint call it); `run()` repeats it.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from app.services.queue import store

log = logging.getLogger(__name__)


class Cleaner:
    def __init__(self, db: asyncpg.Pool, days: float, interval: float = 3600.0) -> None:
        self._db = db
        self.days = days
        self.interval = interval

    async def run_once(self) -> int:
        deleted = await store.delete_old_jobs(self._db, self.days)
        if deleted:
            log.info("retention: deleted %d finished job(s) older than %g days", deleted, self.days)
        return deleted

    async def run(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval)
