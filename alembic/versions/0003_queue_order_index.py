"""queue order and recent-completion indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 06:42:40.145573
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ai_jobs_queue_order_idx",
        "ai_jobs",
        ["pool", "priority", "created_at"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )

    op.create_index(
        "ai_jobs_recent_completed_idx",
        "ai_jobs",
        ["pool", sa.text("finished_at DESC")],
        unique=False,
        postgresql_where=sa.text("status = 'completed'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ai_jobs_recent_completed_idx", table_name="ai_jobs", postgresql_where=sa.text("status = 'completed'")
    )
    op.drop_index("ai_jobs_queue_order_idx", table_name="ai_jobs", postgresql_where=sa.text("status = 'queued'"))
