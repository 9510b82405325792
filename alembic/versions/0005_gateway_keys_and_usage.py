"""gateway keys, per-user daily token limits, token usage per job

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Ollama's counts and durations are already in a completed generate/chat/embed job's result_data; the
# view reads them out (0 where a job type has none), so usage needs no write when a job completes.
JOB_USAGE_VIEW = """
CREATE VIEW job_usage AS
SELECT id AS job_id, user_id, username, job_type, finished_at,
       {prompt_tokens} AS prompt_tokens,
       {completion_tokens} AS completion_tokens,
       {total_duration} AS total_duration_ns,
       {load_duration} AS load_duration_ns,
       {prompt_eval_duration} AS prompt_eval_duration_ns,
       {eval_duration} AS eval_duration_ns
FROM ai_jobs
WHERE status = 'completed' AND result_data IS NOT NULL
"""


def _count(field: str) -> str:
    """A whole number from result_data, or 0 (a result may lack the field, or hold something else there)."""
    return (
        f"CASE WHEN jsonb_typeof(result_data -> '{field}') = 'number' "
        f"THEN (result_data ->> '{field}')::numeric::bigint ELSE 0 END"
    )


def upgrade() -> None:
    # A gateway (Open WebUI, a proxy) uses one key for many people and names the person per request.
    op.add_column("api_keys", sa.Column("is_gateway", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    # NULL: DAILY_TOKEN_LIMIT applies (or no limit).
    op.add_column("users", sa.Column("daily_token_limit", sa.BigInteger(), nullable=True))
    op.execute(
        JOB_USAGE_VIEW.format(
            prompt_tokens=_count("prompt_eval_count"),
            completion_tokens=_count("eval_count"),
            total_duration=_count("total_duration"),
            load_duration=_count("load_duration"),
            prompt_eval_duration=_count("prompt_eval_duration"),
            eval_duration=_count("eval_duration"),
        )
    )
    # Today's and the last 7 days' totals per user, and the daily limit check at each submission.
    op.create_index(
        "ai_jobs_usage_idx",
        "ai_jobs",
        ["user_id", "finished_at"],
        postgresql_where=sa.text("status = 'completed' AND result_data IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ai_jobs_usage_idx", table_name="ai_jobs")
    op.execute("DROP VIEW job_usage")
    op.drop_column("users", "daily_token_limit")
    op.drop_column("api_keys", "is_gateway")
