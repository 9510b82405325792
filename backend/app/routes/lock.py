"""The GPU lock: who holds each slot, doing what, since when; admins force-release or hold a slot."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from app.errors import NotFound
from app.routes.deps import AdminUser, CurrentUser
from app.schemas.jobs import GpuLockView, LockHolder
from app.schemas.locks import ForceReleased, History, Released, TakeGpuSlot
from app.services.fleet import views as fleet_views
from app.services.leases import gpu
from app.services.leases import service as leases
from app.services.queue.views import lock_view

router = APIRouter(prefix="/api/ai-agent/lock", tags=["gpu lock"])
POOL = "gpu"
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "No or bad token"}}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {**AUTH_ERRORS, 403: {"description": "Needs an admin"}}


@router.get("", response_model=GpuLockView, responses=AUTH_ERRORS)
async def get_lock(request: Request, _user: CurrentUser) -> GpuLockView:
    """Who holds the GPU (each slot), doing what, since when, and how many jobs wait."""
    lock = await gpu.gpu_lock(request.app.state.db, POOL, request.app.state.settings.max_concurrent_jobs)
    return lock_view(lock, await fleet_views.host_views(request.app.state.db, show_urls=False))


@router.post(
    "/force-release",
    response_model=list[ForceReleased],
    responses={**ADMIN_ERRORS, 404: {"description": "The GPU is free"}},
)
async def force_release(
    request: Request,
    admin: AdminUser,
    slot: Annotated[int | None, Query(ge=0, le=63, description="Only this slot (default: every held slot).")] = None,
) -> list[dict[str, Any]]:
    """Cancel the job(s) holding the GPU and free the slot(s) now; the history records who did it."""
    capacity = request.app.state.settings.max_concurrent_jobs
    async with request.app.state.db.acquire() as conn, conn.transaction():
        keys, _, _ = await gpu.fleet_slots(conn, POOL, capacity)
        held = [holder.key for holder in await leases.active(conn, keys=keys)]
        targets = [key for key in held if slot is None or key == f"{POOL}/{slot}"]
        if not targets:
            raise NotFound("The GPU is not held by anyone; nothing to release.", {"slot": slot})
        released = [await leases.force_release(conn, admin, key, POOL) for key in targets]
    request.app.state.events.lock_changed()
    return released


@router.post(
    "/maintenance",
    response_model=LockHolder,
    status_code=201,
    responses={**ADMIN_ERRORS, 409: {"description": "Every slot is busy: the holder"}},
)
async def take_slot(request: Request, admin: AdminUser, body: TakeGpuSlot) -> dict[str, Any]:
    """Hold a free GPU slot by hand for maintenance, for at most `ttl_seconds`; jobs wait meanwhile."""
    capacity = request.app.state.settings.max_concurrent_jobs
    async with request.app.state.db.acquire() as conn, conn.transaction():
        holder = await gpu.take_slot(conn, admin, POOL, capacity, body.ttl_seconds, body.details)
    request.app.state.events.lock_changed()
    return holder.as_dict()


@router.delete(
    "/maintenance/{slot}", response_model=Released, responses={**ADMIN_ERRORS, 404: {"description": "Not held"}}
)
async def release_slot(request: Request, admin: AdminUser, slot: Annotated[int, Path(ge=0, le=63)]) -> Released:
    """Give back a slot taken for maintenance."""
    await leases.release(request.app.state.db, admin, f"{POOL}/{slot}", POOL)
    request.app.state.events.lock_changed()
    return Released(key=f"{POOL}/{slot}")


@router.get("/history", response_model=History, responses=AUTH_ERRORS)
async def lock_history(
    request: Request,
    _user: CurrentUser,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> History:
    """Who used the GPU, when, for what, and how it ended (released, expired, force_released)."""
    entries = await leases.history(request.app.state.db, prefix=f"{POOL}/", before_id=before_id, limit=limit)
    return History(entries=entries, next_before_id=entries[-1]["id"] if len(entries) == limit else None)  # type: ignore[arg-type]
