"""The routes' dependencies."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.main import create_app


def plain_functions(dependant: Dependant) -> list[str]:
    found = []
    for sub in dependant.dependencies:
        call = sub.call
        if call is not None and not inspect.iscoroutinefunction(call) and not isinstance(call, type):
            if not inspect.iscoroutinefunction(getattr(call, "__call__", None)):  # noqa: B004 — a callable instance
                found.append(getattr(call, "__qualname__", repr(call)))
        found += plain_functions(sub)
    return found


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (FastAPI ≥ 0.16x keeps it whole)
            yield from api_routes(route.original_router.routes)


def test_no_route_runs_a_dependency_in_a_worker_thread() -> None:
    """FastAPI runs a plain `def` dependency (or endpoint) in its thread pool: a thread hop on every
    request. The `settings` dependency was one, and it alone halved what the status endpoint could
    serve (make bench: 1,400 → 2,600 req/s with it async)."""
    app = create_app()
    routes = list(api_routes(app.routes))
    assert any(route.path.endswith("/job/{job_id}/status") for route in routes)
    threaded = {}
    for route in routes:
        names = plain_functions(route.dependant)
        if not inspect.iscoroutinefunction(route.endpoint):
            names.append(route.endpoint.__qualname__)
        if names:
            threaded[f"{sorted(route.methods)} {route.path}"] = names
    assert threaded == {}
