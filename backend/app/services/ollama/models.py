"""What Ollama has and has loaded, and what this process uses: for the model management routes."""

from __future__ import annotations

import os
from typing import Any

import httpx
import psutil

from app.errors import AppError, NotFound
from app.services.ollama.names import same_model


class OllamaUnreachable(AppError):
    status_code = 502
    code = "ollama_unreachable"


async def _get(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    try:
        reply = await client.get(path)
        reply.raise_for_status()
        return dict(reply.json())
    except httpx.HTTPError as error:
        raise OllamaUnreachable(f"Could not ask Ollama at {client.base_url} ({path}): {error}") from error


async def catalogue(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Ollama's models (`/api/tags`), each marked with whether it is loaded (`/api/ps`)."""
    installed = (await _get(client, "/api/tags")).get("models", [])
    loaded = (await _get(client, "/api/ps")).get("models", [])
    result = []
    for model in installed:
        running = next((entry for entry in loaded if same_model(entry["name"], model["name"])), None)
        result.append(
            {
                **model,
                "loaded": running is not None,
                "size_vram": running.get("size_vram") if running else None,
                "expires_at": running.get("expires_at") if running else None,
            }
        )
    return result


async def status(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    for model in await catalogue(client):
        if same_model(model["name"], name):
            return {
                "name": model["name"],
                "available": True,
                "loaded": model["loaded"],
                "size": model.get("size"),
                "size_vram": model["size_vram"],
                "expires_at": model["expires_at"],
                "details": model.get("details", {}),
            }
    raise NotFound(
        f"Ollama has no model {name!r}. Pull it first: POST /api/ai-agent/jobs "
        f'{{"job_type": "model.pull", "request": {{"model": "{name}"}}}}, or pick one from GET /api/v1/models.',
        {"model": name},
    )


async def require_available(client: httpx.AsyncClient, name: str) -> None:
    """NotFound (404) now for a model Ollama does not have, rather than a job that fails later. When
    Ollama cannot be asked, the caller queues anyway: a job waits and retries while Ollama is down."""
    try:
        await status(client, name)
    except OllamaUnreachable:
        return


async def loaded(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await _get(client, "/api/ps")).get("models", []))


def process_usage() -> dict[str, Any]:
    process = psutil.Process(os.getpid())
    with process.oneshot():
        memory = process.memory_info()
        return {
            "pid": process.pid,
            "rss_bytes": memory.rss,
            "cpu_percent": process.cpu_percent(interval=None),
            "threads": process.num_threads(),
            "system_memory_percent": psutil.virtual_memory().percent,
        }
