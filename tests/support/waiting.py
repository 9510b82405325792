"""Wait for an outcome with a deadline (never a fixed sleep): poll the database until it is true."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from app.services.queue import store

T = TypeVar("T")


async def until(check: Callable[[], Awaitable[T] | T], within: float = 20.0, what: str = "condition") -> T:
    """Poll `check` (plain or async) until it returns something truthy; fail with `what` after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {within}s (last: {value!r})")
        await asyncio.sleep(0.01)


async def job_reaches(db: asyncpg.Pool, job_id: uuid.UUID, statuses: set[str], within: float = 20.0) -> store.Job:
    async def check() -> store.Job | None:
        job = await store.get_job(db, job_id)
        return job if job is not None and job.status in statuses else None

    return await until(check, within, f"job {job_id} in {statuses}")
