"""Submitting jobs straight into the queue, for service-level tests."""

from __future__ import annotations

import asyncpg

from app.services.queue import store

TERMINAL = {"completed", "failed", "cancelled"}


async def submit(db: asyncpg.Pool, job_type: str = "generate", quota: int = 1000, **fields: object) -> store.Job:
    request = fields.pop("request", {"model": "tinyllama", "prompt": "Why is the sky blue?"})
    fields = {"user_id": "alice", "username": "alice", **fields}
    new = store.NewJob(job_type=job_type, request_data=request, **fields)  # type: ignore[arg-type]
    return (await store.enqueue(db, new, quota=quota)).job


async def leases_held(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM leases"))
