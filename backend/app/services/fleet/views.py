"""The fleet as people see it: each host's state, what it has loaded, what runs on it and what it learned.
One statement (`sql.HOSTS_VIEW`); a host's Ollama address only for admins."""

from __future__ import annotations

from typing import Any

from app.config import Settings
from app.db import Executor
from app.errors import NotFound
from app.schemas.hosts import FleetView, HostView
from app.services.fleet import hosts, sql


def host_view(row: Any, *, show_url: bool) -> HostView:
    host = hosts.Host.from_row(row)
    return HostView.model_validate(
        {
            "name": host.name,
            "base_url": host.base_url if show_url else None,
            "slots": host.slots,
            "gpu_memory": host.gpu_memory,
            "labels": host.labels,
            "state": host.state,
            "reachable": host.reachable,
            "draining": host.draining,
            "version": host.version,
            "probed_at": host.probed_at,
            "loaded": host.loaded,
            "running": row["running"],
            "queued_warm": row["queued_warm"],
            "costs": row["costs"],
        }
    )


async def host_views(db: Executor, *, show_urls: bool) -> list[HostView]:
    return [host_view(row, show_url=show_urls) for row in await sql.HOSTS_VIEW.fetch(db)]


async def fleet(db: Executor, settings: Settings, *, show_urls: bool) -> FleetView:
    return FleetView(
        scheduler=settings.scheduler,
        max_bypass_seconds=settings.scheduler_max_bypass_seconds,
        hosts=await host_views(db, show_urls=show_urls),
    )


async def one(db: Executor, name: str, *, show_url: bool = True) -> HostView:
    """One host's view (after an admin changed it)."""
    for view in await host_views(db, show_urls=show_url):
        if view.name == name:
            return view
    raise NotFound(f"No host {name!r}.", {"host": name})
