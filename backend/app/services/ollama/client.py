"""The one place that builds a client for Ollama, with timeouts set (the official client has none)."""

from __future__ import annotations

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
