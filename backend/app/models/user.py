from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class User(Base):
    """A person or program that submits work. With AUTH_MODE=jwt/firebase, rows are created on first sight."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(Text, primary_key=True)  # apikey mode: the name; jwt/firebase: the `sub`
    username: Mapped[str] = mapped_column(Text)
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    daily_token_limit: Mapped[int | None] = mapped_column(BigInteger)  # NULL: DAILY_TOKEN_LIMIT, if set
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiKey(Base):
    """A key aijobs issued. Only its SHA-256 is stored: keys are long random strings, so a fast hash is
    enough, and a leaked table reveals no usable key. `prefix` lets people tell their keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(Text, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    prefix: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A gateway's key (Open WebUI, a proxy): its requests may name the person they are for (see auth).
    is_gateway: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
