"""Request and response bodies of the job endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.models.job import JobStatus
from app.schemas.hosts import HostView

# How the page shows a job type's result: plain text, Markdown, a diagram, vectors, a model operation, a
# training run, or (anything else) the JSON itself.
ResultKind = Literal["text", "markdown", "diagram", "embeddings", "model", "training", "json"]


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
    locks: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list,
        max_length=10,
        description="Extra lease keys the job needs while it runs (e.g. `folder:/srv/repo`); it starts only "
        "when the GPU slot and all of these are free.",
    )
    requires: list[Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]] = (
        Field(
            default_factory=list,
            max_length=10,
            description="GPU host labels the job needs (e.g. `a100`); `host:<name>` runs it on that host only. "
            "It waits until a host with all of them takes work.",
        )
    )


class LockHolder(BaseModel):
    key: str = Field(description="The lease key: `gpu/0` for the first GPU slot.")
    operation: str | None = Field(description="What the holder is doing, e.g. `AI Report Generation`.")
    details: str | None
    job_id: str | None = Field(description="The job holding it, when a job does.")
    user_id: str | None
    username: str | None
    task_ref: str | None
    started_at: datetime
    expires_at: datetime = Field(description="When the lease lapses unless renewed (a crashed holder frees it).")
    elapsed_seconds: float
    progress: dict[str, Any]


class GpuLockView(BaseModel):
    locked: bool = Field(description="Every GPU slot is held: new work waits in the queue.")
    capacity: int = Field(description="GPU slots of the hosts that take work (the whole fleet's).")
    holders: list[LockHolder]
    queue_length: int
    hosts: list[HostView] | None = Field(
        default=None,
        description="Each GPU host: state, slots and who holds them, loaded models, queued jobs warm there "
        "(in the lock view and `lock:update`; addresses left out).",
    )


class JobAccepted(BaseModel):
    success: bool = True
    job_id: uuid.UUID
    status: JobStatus
    message: str
    position: int | None = Field(default=None, description="Queued jobs that run before this one.")
    eta_seconds: float | None = Field(default=None, description="Estimated seconds until it starts.")
    lock: GpuLockView | None = Field(default=None, description="Who holds the GPU right now.")
    wait_seconds: float | None = Field(
        default=None,
        description="With `?wait=`: how long this request waited for the job to end (the wait asked for, "
        "capped at MAX_WAIT_SECONDS) before answering 202; null without `?wait=`.",
    )


class JobView(BaseModel):
    """A job as its owner sees it: where it is, how far, and (while queued) its place and ETA."""

    job_id: uuid.UUID
    job_type: str
    status: JobStatus
    progress: dict[str, Any]
    position: int | None = Field(default=None, description="Jobs ahead of this one, while queued.")
    eta_seconds: float | None = Field(default=None, description="Estimated seconds until it starts, while queued.")
    waiting_for: list[str] = Field(default_factory=list, description="Lease keys held by others it waits for.")
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


class JobList(BaseModel):
    jobs: list[JobView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null on the last.")


class TimeFigures(BaseModel):
    mean: float | None
    p50: float | None
    p95: float | None


class JobFigures(BaseModel):
    total: int
    queued: int
    running: int
    completed: int
    failed: int
    cancelled: int
    retries: int
    success_rate: float | None = Field(description="completed / (completed + failed); null before any ended.")
    run_seconds: TimeFigures
    wait_seconds: TimeFigures = Field(description="From submission to start.")


class UsageWindow(BaseModel):
    jobs: int = Field(description="Completed jobs.")
    prompt_tokens: int = Field(description="Ollama's prompt_eval_count, summed.")
    completion_tokens: int = Field(description="Ollama's eval_count (generated tokens), summed.")
    total_tokens: int
    total_seconds: float = Field(description="Ollama's total_duration, summed.")
    eval_seconds: float = Field(description="Ollama's eval_duration (generating), summed.")


class UserUsage(BaseModel):
    user_id: str
    username: str | None
    today: UsageWindow = Field(description="Since 00:00 UTC (when daily token limits reset).")
    last_7_days: UsageWindow


class JobStats(JobFigures):
    queue_length: int
    by_type: dict[str, JobFigures]
    usage: list[UserUsage] = Field(
        default_factory=list, description="Tokens per user: yours, or everyone's for an admin with `all`."
    )


class RetryResponse(BaseModel):
    job_id: uuid.UUID
    status: JobStatus
    message: str


class JobResult(BaseModel):
    job_id: uuid.UUID
    status: JobStatus
    result: dict[str, Any] | None
    error_message: str | None = None


class CancelResponse(BaseModel):
    job_id: uuid.UUID
    status: JobStatus
    message: str


class JobTypeView(BaseModel):
    job_type: str = Field(examples=["generate"])
    label: str = Field(description="What people call it.", examples=["Text generation"])
    operation: str = Field(description="What the GPU lock shows while it runs.", examples=["AI Text Generation"])
    description: str
    result_kind: ResultKind = Field(description="How its result is shown.")
    submittable: bool = Field(description="Offered on the page's submit form.")
    default_max_retries: int | None = Field(description="null: MAX_JOB_RETRIES.")
    default_timeout_seconds: float | None = Field(description="null: no run-time limit.")


class JobTypes(BaseModel):
    job_types: list[JobTypeView]
