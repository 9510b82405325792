"""the next job reserved ahead: while a job runs alone on a GPU host, the job its slot will take next is
reserved for it, so that job's request can go to Ollama the moment the running one ends

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RESERVED = sa.text("reserved_for IS NOT NULL")


def upgrade() -> None:
    # A queued job reserved for the running job `reserved_for`, as long as that job holds a live lease:
    # only its hand-off may take it meanwhile (it is still `queued`: its place, its cancel, its quota are
    # as before).
    op.add_column("ai_jobs", sa.Column("reserved_for", postgresql.UUID(as_uuid=True), nullable=True))
    # The hand-off clears the reservations it did not use.
    op.create_index("ai_jobs_reserved_for_idx", "ai_jobs", ["reserved_for"], postgresql_where=RESERVED)


def downgrade() -> None:
    op.drop_index("ai_jobs_reserved_for_idx", table_name="ai_jobs", postgresql_where=RESERVED)
    op.drop_column("ai_jobs", "reserved_for")
