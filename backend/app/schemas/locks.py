"""Bodies of the GPU lock and lease endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.jobs import LockHolder


class AcquireLease(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=300, description="What to lock, e.g. `folder:/srv/repo`.")
    owner: str | None = Field(default=None, max_length=200, description="Shown as the holder; default: you.")
    task_id: str | None = Field(default=None, max_length=200, description="Your reference for the work.")
    ttl_seconds: float = Field(default=300, ge=1, le=86400, description="Lapses unless renewed within this.")
    details: str | None = Field(default=None, max_length=500)


class RenewLease(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttl_seconds: float = Field(
        default=300, ge=1, le=86400, description="The lease lapses this long from now unless renewed again."
    )


class TakeGpuSlot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttl_seconds: float = Field(default=3600, ge=1, le=7 * 86400, description="Hold the slot at most this long.")
    details: str | None = Field(default=None, max_length=500, description="Why, e.g. `driver update`.")


class LeaseList(BaseModel):
    leases: list[LockHolder]


class HistoryEntry(BaseModel):
    id: int
    key: str
    holder: str
    operation: str | None
    details: str | None
    user_id: str | None
    username: str | None
    task_ref: str | None
    acquired_at: datetime
    released_at: datetime | None
    end_reason: str | None = Field(description="released, expired or force_released; null while held.")
    ended_by: str | None


class History(BaseModel):
    entries: list[HistoryEntry]
    next_before_id: int | None = Field(description="Pass as `before_id` for older entries.")


class ForceReleased(BaseModel):
    key: str
    released_from: str
    operation: str | None
    cancelled_job: str | None = Field(description="The job that held it, now cancelled.")


class Released(BaseModel):
    key: str
    released: bool = True
