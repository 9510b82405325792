"""Alembic on a real database: empty → head → base → head, and concurrent upgrades do not race."""

from __future__ import annotations

import asyncio
import os
import sys
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path

import asyncpg

from app import db, migrate
from app.models import Base

# Every table the models describe (alembic_version is left out by `tables`).
TABLES = set(Base.metadata.tables)


async def tables(url: str) -> set[str]:
    conn = await asyncpg.connect(db.asyncpg_dsn(url))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {row["tablename"] for row in rows} - {"alembic_version"}


async def empty_database(url: str) -> None:
    conn = await asyncpg.connect(db.asyncpg_dsn(url))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


async def test_upgrade_from_empty_to_head_and_back_down(database: str) -> None:
    await empty_database(database)
    assert await tables(database) == set()
    await asyncio.to_thread(migrate.upgrade, database)
    assert await tables(database) == TABLES
    await asyncio.to_thread(migrate.downgrade, database, "base")
    assert await tables(database) == set()
    await asyncio.to_thread(migrate.upgrade, database)
    assert await tables(database) == TABLES


async def test_replicas_starting_together_migrate_once_without_error(database: str) -> None:
    """Four `aijobs migrate` processes at once: the advisory lock makes them take turns."""
    await empty_database(database)
    env = {**os.environ, "DATABASE_URL": database}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "migrate", env=env, stdout=PIPE, stderr=STDOUT
        )
        for _ in range(4)
    ]
    outputs = [(await process.communicate())[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], outputs
    assert await tables(database) == TABLES


ROOT = Path(__file__).resolve().parents[1]
ALEMBIC = Path(sys.executable).with_name("alembic")


async def test_alembic_itself_upgrades_from_the_repository_root(database: str) -> None:
    """`alembic upgrade head` as Alembic users run it: alembic.ini at the root, migrations in alembic/."""
    await empty_database(database)
    process = await asyncio.create_subprocess_exec(
        str(ALEMBIC),
        "upgrade",
        "head",
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database},
        stdout=PIPE,
        stderr=STDOUT,
    )
    output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output
    assert await tables(database) == TABLES
