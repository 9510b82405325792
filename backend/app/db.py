"""Database connections: the SQLAlchemy engine for queries, raw asyncpg for LISTEN, and the embedded server."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)


def async_url(url: str) -> str:
    """The URL SQLAlchemy needs (`postgresql+asyncpg://`), whatever scheme the operator wrote."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgres"):
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got {parsed.drivername}://")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """The same URL for asyncpg itself (LISTEN needs a raw connection), which wants plain `postgresql://`."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(async_url(url), pool_size=pool_size, max_overflow=10, pool_pre_ping=False)


async def connect_raw(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(asyncpg_dsn(url))


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in `data_dir/pgdata` and return its URL.

    pgserver runs a real PostgreSQL from its wheel, on a Unix socket only; as root it runs the server
    as an unprivileged `pgserver` user. The server stops when the last process using it exits.
    """
    import pgserver  # imported here: only the embedded mode needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir.resolve() / "pgdata", cleanup_mode="stop")
    url = server.get_uri()
    log.info("embedded PostgreSQL running in %s", data_dir / "pgdata")
    return url
