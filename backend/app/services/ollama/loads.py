"""One load per model at a time. While a model is loading, other jobs that need it wait for that load
instead of asking Ollama to load it again (with several GPU slots, two cold requests for one model
would otherwise load it twice). The load holds a lease `model-load:<name>`, like any other resource,
so this holds across processes; it is renewed with the job's other leases and released by the job
(by holder and attempt), and a crashed loader's lease simply expires."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from app.services.leases import service as leases
from app.services.leases import sql as lease_sql
from app.services.ollama.names import same_model
from app.services.queue.job_type import JobContext

WAIT_POLL = 0.05


def load_key(model: str, host: str | None = None) -> str:
    """One load of a model at a time on one GPU host (another host loads its own copy)."""
    return f"model-load:{model.lower()}" if host in (None, "default") else f"model-load:{host}:{model.lower()}"


async def is_loaded(ctx: JobContext, model: str) -> bool:
    running = await ctx.ollama.ps()
    return any(same_model(entry.model or entry.name or "", model) for entry in running.models)


async def ensure_loaded(ctx: JobContext, model: str, keep_alive: Any = None) -> None:
    """Return once `model` is loaded, loading it if no one else is."""
    if not ctx.coordinate_loads or ctx.db is None or ctx.settings is None or await is_loaded(ctx, model):
        return
    job = ctx.job
    key = load_key(model, job.host)
    lease = leases.LeaseRequest(
        holder=str(job.id),
        attempt=job.attempt,
        job_id=job.id,
        worker_id=ctx.worker_id,
        operation="Model load",
        details=model,
        user_id=job.user_id,
        username=job.username,
        task_ref=f"job:{job.id}",
        ttl=ctx.settings.lease_ttl_seconds,
        grace=ctx.settings.lease_rescue_grace_seconds,
    )
    while True:
        acquired = await leases.try_acquire(ctx.db, lease, [key]) is not None
        if acquired:
            try:
                if not await is_loaded(ctx, model):  # it may have been loaded while we took the lease
                    ctx.progress.update(message=f"loading {model}")
                    load: dict[str, Any] = {"model": model, "prompt": ""}
                    if keep_alive is not None:
                        load["keep_alive"] = keep_alive
                    started = time.monotonic()
                    await ctx.ollama.generate(**load)  # Ollama's load answer carries no durations
                    ctx.load_seconds += time.monotonic() - started  # the job's result counts it
            finally:
                await lease_sql.RELEASE_JOB_LEASE.execute(ctx.db, key=key, job_id=job.id, attempt=job.attempt)
            return
        ctx.progress.update(message=f"waiting for {model} to finish loading")
        await _wait_for_release(ctx, key)
        if await is_loaded(ctx, model):
            return


async def _wait_for_release(ctx: JobContext, key: str) -> None:
    assert ctx.db is not None
    while True:
        if await leases.get(ctx.db, key) is None:
            return
        await asyncio.sleep(WAIT_POLL)
