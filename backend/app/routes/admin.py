"""Users, keys and housekeeping: `/api/ai-agent/me` for anyone, the rest for admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from app.errors import NotFound
from app.routes.deps import AdminUser, CurrentUser
from app.schemas.admin import (
    CleanupResult,
    CreateUser,
    GatewayFlag,
    IssuedKeyView,
    Me,
    NewKey,
    TokenLimit,
    UserView,
)
from app.services.accounts import users
from app.services.queue import store

router = APIRouter(prefix="/api/ai-agent", tags=["users and admin"])
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad token"},
    403: {"description": "Needs an admin"},
}


def _issued(issued: users.IssuedKey) -> IssuedKeyView:
    return IssuedKeyView(
        username=issued.user.username,
        is_admin=issued.user.is_admin,
        key_id=issued.key_id,
        key=issued.key,
        prefix=issued.prefix,
    )


@router.get("/me", response_model=Me, responses={401: {"description": "No or bad token"}})
async def me(user: CurrentUser) -> Me:
    """Who this token belongs to (the page uses it to sign in)."""
    return Me(id=user.id, username=user.username, is_admin=user.is_admin)


@router.get("/admin/users", response_model=list[UserView], responses=ADMIN_ERRORS)
async def list_users(request: Request, _admin: AdminUser) -> list[dict[str, Any]]:
    async with request.app.state.engine.connect() as conn:
        return await users.list_users(conn)


@router.post(
    "/admin/users",
    response_model=IssuedKeyView,
    status_code=201,
    responses={**ADMIN_ERRORS, 409: {"description": "Name taken"}, 422: {"description": "Bad name"}},
)
async def create_user(request: Request, _admin: AdminUser, body: CreateUser) -> IssuedKeyView:
    """Create a user and return their first API key (shown only here)."""
    async with request.app.state.engine.begin() as conn:
        issued = await users.create_user(conn, body.username, admin=body.admin, label=body.label)
    return _issued(issued)


@router.get("/admin/keys", response_model=list[users.KeyInfo], responses=ADMIN_ERRORS)
async def list_keys(request: Request, _admin: AdminUser) -> list[Any]:
    async with request.app.state.engine.connect() as conn:
        return list(await users.list_keys(conn))


@router.post(
    "/admin/users/{username}/keys",
    response_model=IssuedKeyView,
    status_code=201,
    responses={**ADMIN_ERRORS, 404: {"description": "No such user"}},
)
async def add_key(request: Request, _admin: AdminUser, username: str, body: NewKey | None = None) -> IssuedKeyView:
    """Another key for a user (the body, with an optional `label`, may be left out)."""
    async with request.app.state.engine.begin() as conn:
        return _issued(await users.issue_key(conn, username, label=body.label if body else None))


@router.delete(
    "/admin/keys/{key_id}",
    status_code=204,
    responses={**ADMIN_ERRORS, 404: {"description": "No such active key"}},
)
async def revoke_key(request: Request, _admin: AdminUser, key_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> None:
    async with request.app.state.engine.begin() as conn:
        if not await users.revoke_key(conn, key_id):
            raise NotFound(f"No active key {key_id}.", {"key_id": key_id})
    request.app.state.authenticator.forget()  # here at once; other processes within AUTH_CACHE_SECONDS


@router.put(
    "/admin/keys/{key_id}/gateway",
    response_model=users.KeyInfo,
    responses={**ADMIN_ERRORS, 404: {"description": "No such active key"}},
)
async def set_gateway(
    request: Request, _admin: AdminUser, key_id: Annotated[int, Path(ge=1, le=2**63 - 1)], body: GatewayFlag
) -> Any:
    """Mark a key as a gateway's (Open WebUI, a proxy): its requests may name the person they are for
    (`X-OpenWebUI-User-Id`/`-Name`/`-Email` or `X-AIJobs-User`), who becomes the job's user."""
    async with request.app.state.engine.begin() as conn:
        marked = await users.mark_gateway(conn, key_id, body.gateway)
    request.app.state.authenticator.forget()
    return marked


@router.put(
    "/admin/users/{user_id}/token-limit",
    status_code=204,
    responses={**ADMIN_ERRORS, 404: {"description": "No such user"}},
)
async def set_token_limit(request: Request, _admin: AdminUser, user_id: str, body: TokenLimit) -> None:
    """A user's own daily token limit (null: DAILY_TOKEN_LIMIT applies). A gateway's people are users
    named `<gateway>:<person>`."""
    async with request.app.state.engine.begin() as conn:
        await users.set_daily_token_limit(conn, user_id, body.daily_token_limit)
    request.app.state.authenticator.forget()


@router.post("/admin/cleanup", response_model=CleanupResult, responses=ADMIN_ERRORS)
async def cleanup(request: Request, _admin: AdminUser) -> CleanupResult:
    """Delete finished jobs older than JOB_CLEANUP_DAYS now (a periodic task does it hourly too)."""
    days = request.app.state.settings.job_cleanup_days
    deleted = await store.delete_old_jobs(request.app.state.db, days)
    return CleanupResult(deleted=deleted, older_than_days=days)
