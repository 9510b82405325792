"""Shared fixtures: one real PostgreSQL (pgserver) per test session, a fresh database per test.

Each test database is cloned from a template migrated once to head (`CREATE DATABASE … TEMPLATE`),
so tests never share rows and never depend on the order they run in.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app import db as app_db
from app import migrate
from app.config import Settings, load_settings

# A real `aijobs serve` with three users (alice, bob, admin), for route, socket and deployment tests.
from tests.support.api import api, start_api, users  # noqa: F401  (fixtures)

if TYPE_CHECKING:
    from tests.support.simulator import Simulator

TEMPLATE_DB = "aijobs_template"


def database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    import pgserver

    with tempfile.TemporaryDirectory(prefix="aijobs-pg-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        url = server.get_uri()
        admin = f"{url}"
        server.psql(f"CREATE DATABASE {TEMPLATE_DB};")
        migrate.upgrade(database_url(admin, TEMPLATE_DB))
        yield url
        server.cleanup()


@pytest.fixture
async def database(pg_server_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test; its URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(app_db.asyncpg_dsn(pg_server_url))
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    finally:
        await admin.close()
    yield database_url(pg_server_url, name)
    admin = await asyncpg.connect(app_db.asyncpg_dsn(pg_server_url))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def engine(database: str) -> AsyncIterator[AsyncEngine]:
    engine = app_db.create_engine(database, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(database: str) -> AsyncIterator[asyncpg.Pool]:
    """A raw asyncpg pool on this test's database (the queue's statements run on asyncpg)."""
    pool = await app_db.create_pool(database, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    """One Ollama stand-in process for the session; reset before each test that asks for it."""
    from tests.support.simulator import start_simulator

    sim = start_simulator(token_delay=0.005, tokens=8)
    yield sim
    sim.stop()


@pytest.fixture
def sim(simulator: Simulator) -> Simulator:
    simulator.reset()
    return simulator


@pytest.fixture
def make_settings(database: str, tmp_path: Path):
    """Settings for a service under test: fast intervals, pointed at this test's database."""

    def factory(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": database,
            "data_dir": tmp_path / "data",
            "job_processing_interval": 2.0,
            "lease_ttl_seconds": 3.0,
            "lease_rescue_grace_seconds": 0.5,
            "retry_backoff_base": 0.05,
            "retry_backoff_max": 2.0,
            "progress_write_interval": 0.05,
            "shutdown_grace_seconds": 1.0,
        }
        values.update(overrides)
        return load_settings(**values)

    return factory


@pytest.fixture
def service_env(database: str) -> dict[str, str]:
    """Environment for aijobs subprocesses (worker, serve) under test."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAX_", "JOB_", "LEASE_"))}
    env.update(
        DATABASE_URL=database,
        JOB_PROCESSING_INTERVAL="2",
        LEASE_TTL_SECONDS="3",
        LEASE_RESCUE_GRACE_SECONDS="0.5",
        RETRY_BACKOFF_BASE="0.05",
        PROGRESS_WRITE_INTERVAL="0.05",
        SHUTDOWN_GRACE_SECONDS="1",
        LOG_LEVEL="INFO",
    )
    return env
