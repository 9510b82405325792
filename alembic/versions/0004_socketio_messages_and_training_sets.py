"""socket.io messages too large for NOTIFY; uploaded training sets

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NOTIFY carries at most 8000 bytes: a bigger Socket.IO message is stored here and its id notified.
    op.create_table(
        "socketio_messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("socketio_messages_created_idx", "socketio_messages", ["created_at"])
    # Training examples a user uploaded (validated JSONL), referenced by training jobs.
    op.create_table(
        "training_sets",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("examples", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("example_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("training_sets_user_idx", "training_sets", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("training_sets_user_idx", table_name="training_sets")
    op.drop_table("training_sets")
    op.drop_index("socketio_messages_created_idx", table_name="socketio_messages")
    op.drop_table("socketio_messages")
