"""The GPU hosts, `/api/ai-agent/hosts`: anyone sees the fleet (a host's address only admins); admins add,
change, drain, resume and remove hosts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.routes.deps import AdminUser, CurrentUser
from app.schemas.hosts import AddHost, FleetView, HostView, UpdateHost
from app.services.fleet import hosts, views

router = APIRouter(prefix="/api/ai-agent/hosts", tags=["gpu hosts"])
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "No or bad token"}}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {**AUTH_ERRORS, 403: {"description": "Needs an admin"}}
NO_HOST: dict[int | str, dict[str, Any]] = {404: {"description": "No such host"}}
BAD_INPUT: dict[int | str, dict[str, Any]] = {422: {"description": "A field breaks a rule; which one and the fix"}}


@router.get("", response_model=FleetView, responses=AUTH_ERRORS)
async def list_hosts(request: Request, user: CurrentUser) -> FleetView:
    """Every GPU host: its state, slots, what it has loaded, what runs on it, what it learned per model."""
    return await views.fleet(request.app.state.db, request.app.state.settings, show_urls=user.is_admin)


@router.post(
    "",
    response_model=HostView,
    status_code=201,
    responses={**ADMIN_ERRORS, 409: {"description": "A host of that name exists"}, **BAD_INPUT},
)
async def add_host(request: Request, _admin: AdminUser, body: AddHost) -> HostView:
    """Add a GPU host (an Ollama server); jobs are placed on it once the prober has reached it."""
    db = request.app.state.db
    memory = hosts.gpu_memory(body.gpu_memory)
    await hosts.add(db, body.name, body.base_url, body.slots, memory, body.labels)
    return await views.one(db, body.name)


@router.patch(
    "/{name}",
    response_model=HostView,
    responses={
        **ADMIN_ERRORS,
        **NO_HOST,
        **BAD_INPUT,
        409: {"description": "The default host follows OLLAMA_BASE_URL and MAX_CONCURRENT_JOBS"},
    },
)
async def update_host(request: Request, _admin: AdminUser, name: str, body: UpdateHost) -> HostView:
    """Change a host's address, slots, memory or labels; what is left out stays."""
    db = request.app.state.db
    hosts.check_configurable(name, body.base_url, body.slots, request.app.state.settings)
    memory = hosts.gpu_memory(body.gpu_memory) if "gpu_memory" in body.model_fields_set else ...
    await hosts.update(db, name, base_url=body.base_url, slots=body.slots, gpu_memory=memory, labels=body.labels)
    return await views.one(db, name)


@router.post("/{name}/drain", response_model=HostView, responses={**ADMIN_ERRORS, **NO_HOST})
async def drain_host(request: Request, _admin: AdminUser, name: str) -> HostView:
    """Take nothing new on this host; what runs there finishes."""
    await hosts.set_draining(request.app.state.db, name, True)
    return await views.one(request.app.state.db, name)


@router.post("/{name}/resume", response_model=HostView, responses={**ADMIN_ERRORS, **NO_HOST})
async def resume_host(request: Request, _admin: AdminUser, name: str) -> HostView:
    """A drained host takes work again."""
    await hosts.set_draining(request.app.state.db, name, False)
    return await views.one(request.app.state.db, name)


@router.delete(
    "/{name}",
    status_code=204,
    responses={**ADMIN_ERRORS, **NO_HOST, 409: {"description": "Jobs run on it: drain it first"}},
)
async def remove_host(request: Request, _admin: AdminUser, name: str) -> None:
    """Remove a host nothing runs on (drain it first and wait for its jobs to end)."""
    await hosts.remove(request.app.state.db, name)
