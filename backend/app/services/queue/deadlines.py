"""Queue deadlines: a queued job not started by its `queue_deadline` fails with `queue_timeout`.

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


class DeadlineSweeper:
    def __init__(
        self, db: asyncpg.Pool, *, interval: float, on_moved: Callable[[uuid.UUID], None] | None = None
    ) -> None:
        self._db = db
        self.interval = interval
        self._on_moved = on_moved

    async def run_once(self) -> int:
        """Fail every queued job past its deadline; how many."""
        expired = await store.expire_queued_jobs(self._db)
        if expired:
            log.info("%d queued job(s) passed their queue deadline and failed", len(expired))
        if self._on_moved is not None:
            for job_id in expired:
                self._on_moved(job_id)
        return len(expired)

    async def run(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval)
