from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, Float, Integer, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Host(Base):
    """One Ollama server with its own GPU slots. Its slots are leases (`gpu/<name>/<i>`; the default host's
    `gpu/<i>`), so its cap holds across processes. The prober keeps `reachable`, `loaded` and `installed`."""

    __tablename__ = "hosts"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    base_url: Mapped[str] = mapped_column(Text)
    slots: Mapped[int] = mapped_column(Integer)
    gpu_memory: Mapped[int | None] = mapped_column(BigInteger)  # bytes; unknown: no fit check
    labels: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    draining: Mapped[bool] = mapped_column(Boolean, server_default="false")  # running work finishes, none new
    reachable: Mapped[bool] = mapped_column(Boolean, server_default="true")
    failures: Mapped[int] = mapped_column(Integer, server_default="0")  # probes failed in a row
    version: Mapped[str | None] = mapped_column(Text)
    loaded: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")  # /api/ps: name, size, expires
    loaded_models: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")  # their names, compared
    installed: Mapped[dict[str, int]] = mapped_column(JSONB, server_default="{}")  # /api/tags: name → size
    probed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("slots BETWEEN 1 AND 64", name="hosts_slots_check"),)


class HostModelCost(Base):
    """What jobs taught about running a model on a host: load time, run time, speed (moving averages)."""

    __tablename__ = "host_model_costs"

    host: Mapped[str] = mapped_column(Text, primary_key=True)
    model: Mapped[str] = mapped_column(Text, primary_key=True)
    loads: Mapped[int] = mapped_column(Integer, server_default="0")
    load_seconds: Mapped[float | None] = mapped_column(Float)
    loading_seconds_total: Mapped[float] = mapped_column(Float, server_default="0")
    jobs: Mapped[int] = mapped_column(Integer, server_default="0")
    failures: Mapped[int] = mapped_column(Integer, server_default="0")
    run_seconds: Mapped[float | None] = mapped_column(Float)
    busy_seconds_total: Mapped[float] = mapped_column(Float, server_default="0")
    tokens_per_second: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
