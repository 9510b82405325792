from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class JobStatus(enum.StrEnum):
    """A job's state, and which part of the service moves a job out of it."""

    QUEUED = "queued"
    """Waiting for a GPU slot. Left by the processor's claim, by cancel, or by the queue-deadline check."""
    RUNNING = "running"
    """Holds a slot lease. Left by its worker (complete, fail, retry, cancel) or, after a crash, the rescuer."""
    COMPLETED = "completed"
    """Terminal. Removed only by the cleaner after JOB_CLEANUP_DAYS."""
    FAILED = "failed"
    """Terminal, unless someone asks to retry it (back to queued)."""
    CANCELLED = "cancelled"
    """Terminal, unless someone asks to retry it (back to queued)."""


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class AIJob(Base):
    __tablename__ = "ai_jobs"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    user_id: Mapped[str] = mapped_column(Text)
    username: Mapped[str] = mapped_column(Text)
    job_type: Mapped[str] = mapped_column(Text)
    status: Mapped[JobStatus] = mapped_column(Text, server_default=JobStatus.QUEUED.value)
    priority: Mapped[int] = mapped_column(Integer, server_default="0")
    pool: Mapped[str] = mapped_column(Text, server_default="gpu")
    request_data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    result_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(Text)
    retry_count: Mapped[int] = mapped_column(Integer, server_default="0")
    max_retries: Mapped[int] = mapped_column(Integer, server_default="3")
    attempt: Mapped[int] = mapped_column(Integer, server_default="0")
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    timeout_seconds: Mapped[float | None] = mapped_column()
    queue_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    progress: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    details: Mapped[str | None] = mapped_column(Text)
    locks: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    model: Mapped[str | None] = mapped_column(Text)  # the model it runs (its own, or the default when queued)
    requires: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")  # host labels it needs
    host: Mapped[str | None] = mapped_column(Text)  # where it runs (or last ran)
    # Reserved, while queued, for the running job whose slot takes it next (while that job holds a lease).
    reserved_for: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            f"status IN ({', '.join(repr(status.value) for status in JobStatus)})", name="ai_jobs_status_check"
        ),
        # The claim walks this per user: a user's next queued job in priority, then age, order.
        Index(
            "ai_jobs_claim_idx",
            "pool",
            "user_id",
            text("priority DESC"),
            "created_at",
            "id",
            postgresql_where=text("status = 'queued'"),
        ),
        # When the next delayed retry is due, so an idle processor sleeps exactly until then.
        Index("ai_jobs_run_at_idx", "pool", "run_at", postgresql_where=text("status = 'queued'")),
        # Recent run times, for ETAs.
        Index(
            "ai_jobs_recent_completed_idx",
            "pool",
            text("finished_at DESC"),
            postgresql_where=text("status = 'completed'"),
        ),
        # Recent run times per job type, for ETAs.
        Index(
            "ai_jobs_recent_completed_type_idx",
            "pool",
            "job_type",
            text("finished_at DESC"),
            postgresql_where=text("status = 'completed'"),
        ),
        # Queue position and length: index-only range counts in queue order (the id breaks ties).
        Index(
            "ai_jobs_queue_order_idx",
            "pool",
            text("priority DESC"),
            "created_at",
            "id",
            postgresql_where=text("status = 'queued'"),
        ),
        # A host's claim probes each user's first queued job of each model it has loaded, in queue order.
        Index(
            "ai_jobs_queued_model_idx",
            "pool",
            "model",
            "user_id",
            text("priority DESC"),
            "created_at",
            "id",
            postgresql_where=text("status = 'queued'"),
        ),
        # A hand-off clears the reservations it did not use.
        Index("ai_jobs_reserved_for_idx", "reserved_for", postgresql_where=text("reserved_for IS NOT NULL")),
        Index("ai_jobs_user_created_idx", "user_id", text("created_at DESC")),
        # The running jobs (the rescuer looks for those that lost their lease). By id: an index of the queued
        # and running jobs by status was, in a generic plan without statistics, the planner's pick to find
        # one job by id and status — a walk of every entry, dead ones too, on each hand-off.
        Index("ai_jobs_running_idx", "id", postgresql_where=text("status = 'running'")),
        # The model loads queued or under way (the look-ahead does not queue a load twice).
        Index(
            "ai_jobs_loads_idx",
            "model",
            postgresql_where=text("job_type = 'model.load' AND status IN ('queued', 'running')"),
        ),
        Index(
            "ai_jobs_idempotency_idx",
            "user_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )


class PoolUser(Base):
    """One row per (pool, user) that ever queued work: the claim visits users, not jobs, for fairness."""

    __tablename__ = "pool_users"

    pool: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    last_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Their queued jobs, kept by every statement that moves a job in or out of `queued`: the quota is
    # enforced on this row, which concurrent submissions of one user take in turn. The pick and the status
    # read only the users with queued jobs (by `pool_users_queued_idx`).
    queued: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (Index("pool_users_queued_idx", "pool", postgresql_where=text("queued > 0")),)


class JobEvent(Base):
    """Every state change of a job: the audit trail, and the data behind ETA and stats."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_jobs.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
