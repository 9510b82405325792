"""Health: `/health` for Railway's check, and the seeds' `/api/ai-agent/health`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.services.accounts.auth import AuthError

router = APIRouter(tags=["health"])


async def _database_ok(request: Request) -> bool:
    try:
        async with asyncio.timeout(3):
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def _ollama(request: Request, show_url: bool) -> dict[str, Any]:
    """Whether Ollama answers (it does not decide the status: jobs queue and retry while it is down).
    Its address is internal: only an admin's health check shows it."""
    settings = request.app.state.settings
    where = {"url": settings.ollama_base_url} if show_url else {}
    try:
        async with httpx.AsyncClient(base_url=settings.ollama_base_url, timeout=2) as client:
            response = await client.get("/api/version")
            response.raise_for_status()
        return {"reachable": True, **where, "version": response.json().get("version")}
    except (httpx.HTTPError, ValueError) as error:
        detail = (str(error) or type(error).__name__) if show_url else type(error).__name__
        return {"reachable": False, **where, "error": detail}


async def _is_admin(request: Request) -> bool:
    """Health needs no token; one that names an admin shows more."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return False
    try:
        user = await request.app.state.authenticator.authenticate(header[7:].strip())
    except AuthError:
        return False
    except Exception:  # the database is down: health answers anyway, as to anyone
        return False
    return user.is_admin


async def _health(request: Request) -> JSONResponse:
    database, ollama = await asyncio.gather(_database_ok(request), _ollama(request, await _is_admin(request)))
    processor = request.app.state.processor
    body: dict[str, Any] = {
        "status": "healthy" if database else "unhealthy",
        "database": "connected" if database else "unreachable",
        "job_processor": processor.health() if processor else {"running": False, "mode": "separate worker"},
        "ollama": ollama,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    return JSONResponse(body, status_code=200 if database else 503)


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """200 while the service can take jobs; 503 when the database is unreachable."""
    return await _health(request)


@router.get("/api/ai-agent/health")
async def ai_agent_health(request: Request) -> JSONResponse:
    return await _health(request)
