"""The test control surface under /_sim/: inject failures, change settings, hold and release
generations, read and reset stats.

Not part of Ollama's API; nothing here is counted in the stats.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.simulator.holds import parse_hold
from app.simulator.responses import json_response
from app.simulator.state import ENDPOINTS, FAIL_KINDS, GPU_ENDPOINTS, SimState


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _failure_request(data: dict[str, Any]) -> tuple[str, int, tuple[str, ...]]:
    kind = data.get("kind")
    if kind not in FAIL_KINDS:
        raise ValueError(f"kind must be one of {list(FAIL_KINDS)}, got {kind!r}")
    count = data.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a whole number >= 1, got {count!r}")
    text_endpoints = ["generate", "chat"]  # only a model's text answer can be malformed
    endpoints = data.get("endpoints") or (text_endpoints if kind == "invalid_json" else list(GPU_ENDPOINTS))
    if not isinstance(endpoints, list) or not set(endpoints) <= set(ENDPOINTS):
        raise ValueError(f"endpoints must be a list drawn from {list(ENDPOINTS)}, got {endpoints!r}")
    if kind == "invalid_json" and not set(endpoints) <= set(text_endpoints):
        raise ValueError("invalid_json applies to generate and chat only")
    return kind, count, tuple(endpoints)


def _bad(error: Exception) -> Response:
    return json_response({"error": str(error)}, 400)


def routes_for(state: SimState) -> dict[str, Any]:
    """Handlers by path; app.py mounts them."""

    async def fail(request: Request) -> Response:
        try:
            kind, count, endpoints = _failure_request(await _json_object(request))
        except ValueError as error:
            return _bad(error)
        state.add_failure(kind, count, endpoints)
        return json_response({"pending": [failure.as_dict() for failure in state.failures]})

    async def config(request: Request) -> Response:
        if request.method == "POST":
            try:
                state.config.update(await _json_object(request))
            except ValueError as error:
                return _bad(error)
        return json_response(state.config.as_dict())

    async def stats(_request: Request) -> Response:
        body = state.stats.as_dict()
        body.update(state.holds.as_dict())
        body["vram_used"] = state.residency.used()
        body["waiting_for_memory"] = state.residency.waiting_for_memory
        body["pending_failures"] = [failure.as_dict() for failure in state.failures]
        body["config"] = state.config.as_dict()
        return json_response(body)

    async def hold(request: Request) -> Response:
        try:
            state.holds.add(parse_hold(await _json_object(request)))
        except ValueError as error:
            return _bad(error)
        return json_response(state.holds.as_dict())

    async def release(_request: Request) -> Response:
        return json_response({"released": state.holds.release()})

    async def reset(_request: Request) -> Response:
        state.reset()
        return json_response({"status": "reset"})

    return {"fail": fail, "config": config, "stats": stats, "reset": reset, "hold": hold, "release": release}
