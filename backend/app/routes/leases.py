"""`/api/locks`: leases on other resources (a folder, a dataset, a deploy), same table and rules as the
GPU slots: one holder per key, lapses unless renewed, released by its owner, force-released by admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.errors import NotFound
from app.routes.deps import AdminUser, CurrentUser
from app.schemas.jobs import LockHolder
from app.schemas.locks import AcquireLease, ForceReleased, History, LeaseList, Released, RenewLease
from app.services.leases import service as leases

router = APIRouter(prefix="/api/locks", tags=["leases"])
ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "No or bad token"}}


@router.post(
    "",
    response_model=LockHolder,
    status_code=201,
    responses={**ERRORS, 409: {"description": "Held by someone else: the holder"}, 422: {"description": "Bad key"}},
)
async def acquire(request: Request, user: CurrentUser, body: AcquireLease) -> dict[str, Any]:
    """Take a lease on `key` for `ttl_seconds`; 409 names who holds it."""
    key = leases.check_resource_key(body.key)
    async with request.app.state.db.acquire() as conn, conn.transaction():
        await leases.sweep_expired(conn)  # an expired holder's history says `expired`, not taken over silently
        holder = await leases.acquire(
            conn, user, key, ttl=body.ttl_seconds, owner=body.owner, task_id=body.task_id, details=body.details
        )
    return holder.as_dict()


@router.get("", response_model=LeaseList, responses=ERRORS)
async def list_leases(request: Request, _user: CurrentUser) -> LeaseList:
    """Active leases on resources (not GPU slots: see /api/ai-agent/lock), with their expiry."""
    async with request.app.state.db.acquire() as conn, conn.transaction():
        await leases.sweep_expired(conn)
        held = await leases.active(conn)
    return LeaseList(leases=[holder.as_dict() for holder in held if not holder.key.startswith("gpu/")])  # type: ignore[misc]


@router.get("/history", response_model=History, responses=ERRORS)
async def lease_history(
    request: Request,
    _user: CurrentUser,
    key: Annotated[str | None, Query(max_length=300)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> History:
    """Every lease with how it ended: released, expired or force_released (and by whom)."""
    async with request.app.state.db.acquire() as conn, conn.transaction():
        await leases.sweep_expired(conn)
        entries = await leases.history(conn, key=key, before_id=before_id, limit=limit)
    return History(entries=entries, next_before_id=entries[-1]["id"] if len(entries) == limit else None)  # type: ignore[arg-type]


@router.get("/{key:path}/status", response_model=LockHolder, responses={**ERRORS, 404: {"description": "Free"}})
async def lease_status(request: Request, _user: CurrentUser, key: str) -> dict[str, Any]:
    """Who holds `key`, or 404 when nobody does."""
    async with request.app.state.db.acquire() as conn:
        holder = await leases.get(conn, key)
    if holder is None:
        raise NotFound(f"Nobody holds {key!r}.", {"key": key})
    return holder.as_dict()


@router.post(
    "/{key:path}/renew",
    response_model=LockHolder,
    responses={**ERRORS, 403: {"description": "Not yours"}, 404: {"description": "Not held"}},
)
async def renew(request: Request, user: CurrentUser, key: str, body: RenewLease | None = None) -> dict[str, Any]:
    """Extend your lease to `ttl_seconds` from now. The body is optional: without it, 300 s, the same
    default as on acquire. (A lease does not keep the TTL it was taken with, so "its own TTL" is not
    known; `expires_at - acquired_at` would grow with every renewal.)"""
    ttl = (body or RenewLease()).ttl_seconds
    holder = await leases.renew(request.app.state.db, user, key, ttl)
    return holder.as_dict()


@router.post(
    "/{key:path}/force-release",
    response_model=ForceReleased,
    responses={**ERRORS, 403: {"description": "Needs an admin"}, 404: {"description": "Not held"}},
)
async def force_release(request: Request, admin: AdminUser, key: str) -> dict[str, Any]:
    """Admins: free `key` now, whoever holds it (recorded as force_released, with your name)."""
    async with request.app.state.db.acquire() as conn, conn.transaction():
        return await leases.force_release(conn, admin, key)


@router.delete(
    "/{key:path}",
    response_model=Released,
    responses={**ERRORS, 403: {"description": "Held by someone else"}, 404: {"description": "Not held"}},
)
async def release(request: Request, user: CurrentUser, key: str) -> Released:
    """Give your lease back. Only its owner can (admins: force-release)."""
    async with request.app.state.db.acquire() as conn, conn.transaction():
        await leases.release(conn, user, key)
    return Released(key=key)
