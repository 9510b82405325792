"""a GPU fleet: hosts, what each has loaded, learned costs per host and model; jobs know their model,
required labels and host; leases know their host and when their job should end

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

QUEUED = sa.text("status = 'queued'")


def upgrade() -> None:
    # A host is one Ollama server with its own GPU slots; the prober keeps what it has and has loaded.
    op.create_table(
        "hosts",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("gpu_memory", sa.BigInteger(), nullable=True),
        sa.Column("labels", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("draining", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("reachable", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version", sa.Text(), nullable=True),
        sa.Column("loaded", postgresql.JSONB(), server_default="[]", nullable=False),
        # The names of the loaded models (Ollama's short form, lower case), for placement to compare.
        sa.Column("loaded_models", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("installed", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("probed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("slots BETWEEN 1 AND 64", name="hosts_slots_check"),
        sa.PrimaryKeyConstraint("name"),
    )
    # What every job taught about a (host, model): how long a load takes, how long a job runs, how fast.
    op.create_table(
        "host_model_costs",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("loads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("load_seconds", sa.Float(), nullable=True),
        sa.Column("loading_seconds_total", sa.Float(), server_default="0", nullable=False),
        sa.Column("jobs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("run_seconds", sa.Float(), nullable=True),
        sa.Column("busy_seconds_total", sa.Float(), server_default="0", nullable=False),
        sa.Column("tokens_per_second", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("host", "model"),
    )
    # Every deployment has the default host (OLLAMA_BASE_URL, MAX_CONCURRENT_JOBS slots: the service's start
    # sets both, and removes it when OLLAMA_HOSTS names the hosts instead); its slots keep the keys gpu/<i>.
    op.execute("INSERT INTO hosts (name, base_url, slots) VALUES ('default', 'http://localhost:11434', 1)")
    op.add_column("ai_jobs", sa.Column("model", sa.Text(), nullable=True))
    op.add_column("ai_jobs", sa.Column("requires", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False))
    op.add_column("ai_jobs", sa.Column("host", sa.Text(), nullable=True))
    op.execute("UPDATE ai_jobs SET model = lower(request_data ->> 'model') WHERE request_data ? 'model'")
    # A host's claim probes each user's first queued job of each model it has loaded, in queue order.
    op.create_index(
        "ai_jobs_queued_model_idx",
        "ai_jobs",
        ["pool", "model", "user_id", sa.text("priority DESC"), "created_at", "id"],
        postgresql_where=QUEUED,
    )
    op.add_column("leases", sa.Column("host", sa.Text(), nullable=True))
    op.add_column("leases", sa.Column("expected_end", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("leases", "expected_end")
    op.drop_column("leases", "host")
    op.drop_index("ai_jobs_queued_model_idx", table_name="ai_jobs", postgresql_where=QUEUED)
    op.drop_column("ai_jobs", "host")
    op.drop_column("ai_jobs", "requires")
    op.drop_column("ai_jobs", "model")
    op.drop_table("host_model_costs")
    op.drop_table("hosts")
