"""Alembic environment: runs migrations on an asyncpg connection, under an advisory lock.

The lock makes concurrent start-ups (several replicas, a worker) wait for one another instead of
racing to create the same tables.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app import db
from app.config import load_settings
from app.models import Base

MIGRATION_LOCK_ID = 7_341_001  # any constant, shared by every aijobs process

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    # A transaction-level lock, taken in the same transaction as the migrations: it is released by
    # their COMMIT, so the next process only reads alembic_version once this one's changes are visible.
    # (A session lock released before the commit let a waiting process see the old version and run
    # the same migrations again, failing on "already exists".)
    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


def _database_url() -> str:
    """The URL `aijobs migrate` passes in; run as `alembic …` from the repository: DATABASE_URL, or the
    embedded PostgreSQL that `aijobs serve` would use."""
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    settings = load_settings()
    return settings.database_url or db.start_embedded_postgres(settings.data_dir)


async def _run_online(url: str) -> None:
    engine = db.create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online(_database_url()))
