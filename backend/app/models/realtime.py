from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class SocketioMessage(Base):
    """A Socket.IO message too large for NOTIFY's 8000 bytes: stored here, its id notified instead.
    Rows older than a few minutes are deleted by the publisher."""

    __tablename__ = "socketio_messages"
    __table_args__ = (Index("socketio_messages_created_idx", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
