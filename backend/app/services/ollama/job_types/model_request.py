"""What the model job types (pull, load, unload, create, copy, delete, push) share: a model name Ollama
accepts, the rule that changing Ollama's model store is for admins, and following one of Ollama's
status streams (`{"status", "digest", "total", "completed"}` lines) as the job's progress."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import Forbidden
from app.services.accounts.users import User
from app.services.ollama.names import ValidModelName
from app.services.queue.job_type import JobContext


class ModelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: ValidModelName = Field(
        min_length=1, max_length=300, description="e.g. `tinyllama:latest`, `hf.co/org/repo:Q4_K_M`"
    )


class AdminOnly:
    """A job type that changes what every user sees in Ollama's model store."""

    job_type: str

    async def authorize(self, conn: AsyncConnection, user: User, request: Any) -> None:
        if not user.is_admin:
            raise Forbidden(f"{self.job_type} changes Ollama's models for everyone: only admins may run it.")


async def follow_status(ctx: JobContext, lines: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    """Report each status line as progress — the line itself (status, digest, total, completed) and the
    bytes summed over the layers seen so far — and return the totals with the last status."""
    layers: dict[str, tuple[int, int]] = {}
    status = ""
    async with aclosing(lines) as stream:  # type: ignore[type-var]
        async for line in stream:
            status = str(line.get("status") or status)
            digest = line.get("digest")
            if digest and line.get("total"):
                layers[digest] = (int(line.get("completed") or 0), int(line["total"]))
            done = sum(completed for completed, _ in layers.values())
            total = sum(size for _, size in layers.values())
            ctx.progress.update(
                message=status,
                digest=digest or "",
                layer_total=line.get("total") or 0,
                layer_completed=line.get("completed") or 0,
                completed_bytes=done,
                total_bytes=total,
                percent=round(100 * done / total, 1) if total else 0,
            )
    return {"status": status, "total_bytes": sum(size for _, size in layers.values())}
