from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Lease(Base):
    """Who holds a resource right now. The primary key makes a second holder of a key impossible.

    GPU slots of a pool of capacity N are the keys `<pool>/0 … <pool>/N-1` (`gpu/0` by default).
    A row whose `expires_at` has passed is free: the next acquirer takes it over in one statement.
    """

    __tablename__ = "leases"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    holder: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int | None] = mapped_column(Integer)  # the job's fencing token, when a job holds it
    operation: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(Text)
    task_ref: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))  # the job holding it, if a job does
    worker_id: Mapped[str | None] = mapped_column(Text)  # the processor that renews it, if one does
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Held this long past `expires_at` too: a job's runner may still be stopping (LEASE_RESCUE_GRACE_SECONDS).
    grace_seconds: Mapped[float] = mapped_column(Float, server_default="0")
    host: Mapped[str | None] = mapped_column(Text)  # the GPU host of a slot lease
    expected_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # its job's, from learned costs

    __table_args__ = (
        Index("leases_holder_idx", "holder"),
        Index("leases_job_idx", "job_id"),
        Index("leases_worker_idx", "worker_id"),
    )


class LeaseHistory(Base):
    """Every acquire, with how it ended: released, expired or force_released (and by whom)."""

    __tablename__ = "lease_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(Text)
    holder: Mapped[str] = mapped_column(Text)
    operation: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(Text)
    task_ref: Mapped[str | None] = mapped_column(Text)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(Text)  # released · expired · force_released
    ended_by: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("lease_history_open_idx", "key", postgresql_where=text("released_at IS NULL")),
        Index("lease_history_acquired_idx", text("acquired_at DESC")),
    )
