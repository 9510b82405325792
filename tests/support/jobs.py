"""Submitting jobs straight into the queue, for service-level tests."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.queue import store

TERMINAL = {"completed", "failed", "cancelled"}


async def submit(engine: AsyncEngine, job_type: str = "generate", **fields: object) -> store.Job:
    request = fields.pop("request", {"model": "tinyllama", "prompt": "Why is the sky blue?"})
    new = store.NewJob(user_id="alice", username="alice", job_type=job_type, request_data=request, **fields)  # type: ignore[arg-type]
    async with engine.begin() as conn:
        return (await store.enqueue(conn, new)).job


async def leases_held(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM leases"))).scalar_one())
