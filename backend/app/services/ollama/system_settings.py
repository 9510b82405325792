"""Settings the service writes itself (`system_settings`): which model is active after training."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

SETTINGS_ALL = "SELECT key, value, updated_at FROM system_settings"

SETTING_GET = "SELECT value FROM system_settings WHERE key = :key"

CHANNEL_SETTINGS_CHANGED = "aijobs_settings_changed"  # processors reload their cached settings

# Several keys in one statement (one transaction): a deploy switches everything or nothing.
SETTINGS_PUT = f"""
WITH put AS (
    INSERT INTO system_settings (key, value, updated_at)
    SELECT key, value, now() FROM jsonb_each(CAST(:values AS jsonb))
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
    RETURNING key
)
SELECT pg_notify('{CHANNEL_SETTINGS_CHANGED}', '') FROM (SELECT 1 FROM put LIMIT 1) changed
"""


ACTIVE_MODEL = "active_model"


def user_model_key(user_id: str) -> str:
    """The setting holding a user's own default model (their last deployed training run)."""
    return f"default_model:{user_id}"


def default_model_for(values: dict[str, Any], user_id: str, fallback: str) -> str:
    """The model a user's job runs when it names none: theirs, else the active model, else `fallback`."""
    for key in (user_model_key(user_id), ACTIVE_MODEL):
        value = values.get(key)
        if isinstance(value, str) and value:
            return value
    return fallback


async def get_all(conn: AsyncConnection) -> dict[str, Any]:
    return {row.key: row.value for row in await conn.execute(text(SETTINGS_ALL))}


async def active_model(conn: AsyncConnection, fallback: str) -> str:
    """The model jobs use when they name none: the last deployed training run's, else `fallback`."""
    value = (await conn.execute(text(SETTING_GET), {"key": ACTIVE_MODEL})).scalar_one_or_none()
    return value if isinstance(value, str) and value else fallback


async def put(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(text(SETTINGS_PUT), {"values": json.dumps(values)})


async def record_deploy(
    conn: AsyncConnection, model: str, examples: int, job_id: str, *, user_id: str, for_everyone: bool
) -> None:
    """A training run deployed `model`: from now on it is its user's default model — and, when an admin
    asked for it, everyone's (the active model)."""
    values: dict[str, Any] = {
        "ai_model_trained": True,
        "ai_model_trained_at": datetime.now(UTC).isoformat(),
        "ai_training_examples": examples,
        "ai_model_trained_by_job": job_id,
        user_model_key(user_id): model,
    }
    if for_everyone:
        values[ACTIVE_MODEL] = model
    await put(conn, values)
