"""One load per model at a time. While a model is loading, other jobs that need it wait for that load
instead of asking Ollama to load it again (with several GPU slots, two cold requests for one model
would otherwise load it twice). The load holds a lease `model-load:<name>`, like any other resource,
so this holds across processes, and a crashed loader's lease simply expires."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from app.services.leases import service as leases
from app.services.leases import sql as lease_sql
from app.services.ollama.names import same_model
from app.services.queue.job_type import JobContext

LOAD_LEASE_TTL = 600.0  # renewed by the job's heartbeat while it runs
WAIT_POLL = 0.05


def load_key(model: str) -> str:
    return f"model-load:{model.lower()}"


async def is_loaded(ctx: JobContext, model: str) -> bool:
    running = await ctx.ollama.ps()
    return any(same_model(entry.model or entry.name or "", model) for entry in running.models)


async def ensure_loaded(ctx: JobContext, model: str, keep_alive: Any = None) -> None:
    """Return once `model` is loaded, loading it if no one else is."""
    if not ctx.coordinate_loads or ctx.engine is None or await is_loaded(ctx, model):
        return
    job = ctx.job
    key = load_key(model)
    lease = leases.LeaseRequest(
        holder=str(job.id),
        attempt=job.attempt,
        operation="Model load",
        details=model,
        user_id=job.user_id,
        username=job.username,
        task_ref=f"job:{job.id}",
        ttl=LOAD_LEASE_TTL,
    )
    while True:
        async with ctx.engine.begin() as conn:
            acquired = await leases.try_acquire(conn, lease, [key]) is not None
        if acquired:
            try:
                if not await is_loaded(ctx, model):  # it may have been loaded while we took the lease
                    ctx.progress.update(message=f"loading {model}")
                    load: dict[str, Any] = {"model": model, "prompt": ""}
                    if keep_alive is not None:
                        load["keep_alive"] = keep_alive
                    await ctx.ollama.generate(**load)
            finally:
                await _release(ctx, key, lease)
            return
        ctx.progress.update(message=f"waiting for {model} to finish loading")
        await _wait_for_release(ctx, key)
        if await is_loaded(ctx, model):
            return


async def _release(ctx: JobContext, key: str, lease: leases.LeaseRequest) -> None:
    assert ctx.engine is not None
    async with ctx.engine.begin() as conn:
        await conn.execute(
            text(lease_sql.RELEASE_LEASE),
            {"key": key, "user_id": lease.user_id, "username": lease.username, "pool": "gpu"},
        )


async def _wait_for_release(ctx: JobContext, key: str) -> None:
    assert ctx.engine is not None
    while True:
        async with ctx.engine.connect() as conn:
            held = await leases.get(conn, key)
        if held is None:
            return
        await asyncio.sleep(WAIT_POLL)
