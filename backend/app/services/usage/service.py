"""Token usage per user, and the daily token limit (DAILY_TOKEN_LIMIT, or a user's own)."""

from __future__ import annotations

import math
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.db import Executor
from app.errors import TooManyRequests
from app.services.accounts.users import User
from app.services.usage import sql

NANOSECONDS = 1_000_000_000


def _window(row: Any, prefix: str) -> dict[str, Any]:
    prompt = int(getattr(row, f"{prefix}_prompt_tokens"))
    completion = int(getattr(row, f"{prefix}_completion_tokens"))
    return {
        "jobs": int(getattr(row, f"{prefix}_jobs")),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "total_seconds": round(int(getattr(row, f"{prefix}_total_ns")) / NANOSECONDS, 3),
        "eval_seconds": round(int(getattr(row, f"{prefix}_eval_ns")) / NANOSECONDS, 3),
    }


async def by_user(conn: AsyncConnection, user_id: str | None = None) -> list[dict[str, Any]]:
    """Each user's usage today (since 00:00 UTC) and over the last 7 days; one user's, or everyone's."""
    rows = await conn.execute(text(sql.USAGE_BY_USER), {"user_id": user_id})
    return [
        {
            "user_id": row.user_id,
            "username": row.username,
            "today": _window(row, "today"),
            "last_7_days": _window(row, "week"),
        }
        for row in rows
    ]


async def of_user(conn: AsyncConnection, user_id: str) -> dict[str, Any]:
    found = await by_user(conn, user_id)
    if found:
        return found[0]
    empty = {"jobs": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    window = {**empty, "total_seconds": 0.0, "eval_seconds": 0.0}
    return {"user_id": user_id, "username": None, "today": window, "last_7_days": dict(window)}


async def metric_families(conn: AsyncConnection) -> list[Metric]:
    """For /metrics: tokens per user, prompt and generated, today and over the last 7 days."""
    tokens = GaugeMetricFamily(
        "aijobs_user_tokens",
        "Tokens of a user's completed jobs (Ollama's counts): today (UTC) and over the last 7 days.",
        labels=["user", "kind", "window"],
    )
    jobs = GaugeMetricFamily("aijobs_user_jobs", "A user's completed jobs.", labels=["user", "window"])
    for entry in await by_user(conn):
        for window in ("today", "last_7_days"):
            figures = entry[window]
            tokens.add_metric([entry["user_id"], "prompt", window], figures["prompt_tokens"])
            tokens.add_metric([entry["user_id"], "completion", window], figures["completion_tokens"])
            jobs.add_metric([entry["user_id"], window], figures["jobs"])
    return [tokens, jobs]


def daily_limit(user: User, settings: Settings) -> int | None:
    """The user's own limit (read with the user when they signed in), else DAILY_TOKEN_LIMIT."""
    return user.daily_token_limit if user.daily_token_limit is not None else settings.daily_token_limit


async def check_daily_limit(db: Executor, user: User, settings: Settings) -> None:
    """429 with Retry-After (until 00:00 UTC) once the user's tokens today reached their limit. A
    job's tokens are known only once it ran, so this bounds new work, not a job already queued. No
    query at all when no limit applies."""
    limit = daily_limit(user, settings)
    if limit is None:
        return
    today = await sql.TOKENS_TODAY.fetchrow(db, user_id=user.id)
    assert today is not None
    used = int(today["used"])
    if used < limit:
        return
    wait = max(1, math.ceil(float(today["seconds_left"])))
    raise TooManyRequests(
        f"{user.username} has used {used} of {limit} tokens today (the daily token limit); "
        f"it resets at 00:00 UTC, in {wait // 3600}h{wait % 3600 // 60:02d}m.",
        {"used": used, "limit": limit},
        retry_after=wait,
    )
