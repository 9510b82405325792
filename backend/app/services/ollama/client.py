"""The one place that builds a client for Ollama, with timeouts set (the official client has none)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import ollama

from app.config import Settings


def create_client(settings: Settings) -> ollama.AsyncClient:
    timeout = httpx.Timeout(
        connect=settings.ollama_connect_timeout,
        read=settings.ollama_read_timeout,  # between two chunks of a stream: a stall counts as transient
        write=settings.ollama_read_timeout,
        pool=settings.ollama_connect_timeout,
    )
    return ollama.AsyncClient(host=settings.ollama_base_url, timeout=timeout)


async def stream_json(client: ollama.AsyncClient, path: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """POST `body` to Ollama and yield each NDJSON chunk as Ollama wrote it.

    The drop-in fronts promise Ollama's answer unchanged, so the request and the chunks go as plain
    JSON rather than through the official client's typed models, which drop what they do not know
    (tool schema keywords, a tool call's id and index). Failures raise `ollama.ResponseError` exactly
    as the official client does (status ≥ 400; an error line mid-stream with status -1), so jobs
    classify them the same way.
    """
    http: httpx.AsyncClient = client._client  # the official client's own connection pool and timeouts
    async with http.stream("POST", path, json=body) as reply:
        if reply.status_code >= 400:
            await reply.aread()
            raise ollama.ResponseError(reply.text, reply.status_code)
        async for line in reply.aiter_lines():
            if not line.strip():
                continue
            chunk = json.loads(line)
            if error := chunk.get("error"):
                raise ollama.ResponseError(error)
            yield chunk
