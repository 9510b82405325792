"""Request and response bodies of the job endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SubmitJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_type: str = Field(description="A registered job type: generate, chat, …", examples=["generate"])
    request: dict[str, Any] = Field(
        description="The job type's own fields.", examples=[{"model": "tinyllama", "prompt": "Why is the sky blue?"}]
    )
    priority: int = Field(default=0, ge=-10, le=10, description="Higher runs first.")
    details: str | None = Field(
        default=None, max_length=500, description="Human summary shown in the lock, e.g. `Case: ACME (ID: 5)`."
    )
    max_retries: int | None = Field(default=None, ge=0, le=20, description="Default: MAX_JOB_RETRIES.")
    timeout_seconds: float | None = Field(default=None, gt=0, le=7 * 86400, description="Run-time limit.")
    queue_deadline_seconds: float | None = Field(
        default=None, gt=0, le=7 * 86400, description="Fail if not started within this many seconds."
    )


class JobAccepted(BaseModel):
    success: bool = True
    job_id: uuid.UUID
    status: str
    message: str
    position: int | None = None


class JobStatus(BaseModel):
    job_id: uuid.UUID
    job_type: str
    status: str
    progress: dict[str, Any]
    position: int | None = Field(default=None, description="Jobs ahead of this one, while queued.")
    retry_count: int
    max_retries: int
    attempt: int
    error_message: str | None
    error_kind: str | None
    details: str | None
    username: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobResult(BaseModel):
    job_id: uuid.UUID
    status: str
    result: dict[str, Any] | None


class CancelResponse(BaseModel):
    job_id: uuid.UUID
    status: str
    message: str
