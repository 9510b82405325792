"""the engine at its floor: leases know their job and worker; per-user queued counts; ETA and order indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

QUEUED = sa.text("status = 'queued'")
COMPLETED = sa.text("status = 'completed'")

# Raised inside the statement that enqueues: the whole statement (the job included) is undone, so a
# quota holds however many submissions race (a count read before the INSERT could not promise that).
QUOTA_FUNCTION = """
CREATE FUNCTION aijobs_check_quota(queued integer, quota integer) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF queued > quota THEN
        RAISE EXCEPTION 'queue quota of % reached', quota USING ERRCODE = 'P0429', HINT = quota::text;
    END IF;
    RETURN true;
END
$$
"""


def upgrade() -> None:
    # The job a lease belongs to, as a column (joined by the lock view with an index, instead of a
    # string built per row), and the worker that renews it (one heartbeat renews all of a worker's).
    op.add_column("leases", sa.Column("job_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.add_column("leases", sa.Column("worker_id", sa.Text(), nullable=True))
    # How long past its expiry the lease stays held: a job's runner may still be stopping (self-fencing).
    op.add_column("leases", sa.Column("grace_seconds", sa.Float(), server_default="0", nullable=False))
    op.execute("UPDATE leases SET job_id = CAST(substr(task_ref, 5) AS uuid) WHERE task_ref LIKE 'job:%'")
    op.create_index("leases_job_idx", "leases", ["job_id"])
    op.create_index("leases_worker_idx", "leases", ["worker_id"])
    # Queued jobs per user, kept by the statements that move jobs in and out of `queued`.
    op.add_column("pool_users", sa.Column("queued", sa.Integer(), server_default="0", nullable=False))
    op.execute(
        "UPDATE pool_users u SET queued = (SELECT count(*) FROM ai_jobs j "
        "WHERE j.pool = u.pool AND j.user_id = u.user_id AND j.status = 'queued')"
    )
    op.execute(QUOTA_FUNCTION)
    # Queue order with the id as the last tie-break, so two jobs never share a place.
    op.drop_index("ai_jobs_claim_idx", table_name="ai_jobs", postgresql_where=QUEUED)
    op.create_index(
        "ai_jobs_claim_idx",
        "ai_jobs",
        ["pool", "user_id", sa.text("priority DESC"), "created_at", "id"],
        postgresql_where=QUEUED,
    )
    op.drop_index("ai_jobs_queue_order_idx", table_name="ai_jobs", postgresql_where=QUEUED)
    op.create_index(
        "ai_jobs_queue_order_idx",
        "ai_jobs",
        ["pool", sa.text("priority DESC"), "created_at", "id"],
        postgresql_where=QUEUED,
    )
    # Recent run times per job type, for ETAs.
    op.create_index(
        "ai_jobs_recent_completed_type_idx",
        "ai_jobs",
        ["pool", "job_type", sa.text("finished_at DESC")],
        postgresql_where=COMPLETED,
    )


def downgrade() -> None:
    op.drop_index("ai_jobs_recent_completed_type_idx", table_name="ai_jobs", postgresql_where=COMPLETED)
    op.drop_index("ai_jobs_queue_order_idx", table_name="ai_jobs", postgresql_where=QUEUED)
    op.create_index("ai_jobs_queue_order_idx", "ai_jobs", ["pool", "priority", "created_at"], postgresql_where=QUEUED)
    op.drop_index("ai_jobs_claim_idx", table_name="ai_jobs", postgresql_where=QUEUED)
    op.create_index(
        "ai_jobs_claim_idx", "ai_jobs", ["pool", "user_id", sa.text("priority DESC"), "created_at"], postgresql_where=QUEUED
    )
    op.execute("DROP FUNCTION aijobs_check_quota(integer, integer)")
    op.drop_column("pool_users", "queued")
    op.drop_index("leases_worker_idx", table_name="leases")
    op.drop_index("leases_job_idx", table_name="leases")
    op.drop_column("leases", "grace_seconds")
    op.drop_column("leases", "worker_id")
    op.drop_column("leases", "job_id")
