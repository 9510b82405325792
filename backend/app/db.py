"""Database connections: the SQLAlchemy engine for queries, raw asyncpg for LISTEN, and the embedded server."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import asyncpg
import psutil
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
    as an unprivileged `pgserver` user. The server stops when the last process using it exits — from
    an atexit handler, which is why `aijobs` turns SIGTERM into a normal exit (see `cli.main`).
    """
    import pgserver  # imported here: only the embedded mode needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir.resolve() / "pgdata"
    _forget_dead_users(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    url = server.get_uri()
    log.info("embedded PostgreSQL running in %s", data_dir / "pgdata")
    return url


def _forget_dead_users(pgdata: Path) -> None:
    """pgserver counts the processes using a server in `pgdata/.handle_pids.json` and stops it when the
    last one exits. A process killed with SIGKILL never takes its pid out, and then no later process
    is ever the last: the server would outlive them all. Drop the pids of processes that are gone."""
    from pgserver.postgres_server import PostgresServer

    users = pgdata / ".handle_pids.json"
    with PostgresServer._lock:  # the lock pgserver holds while it reads and writes that file
        if users.exists():
            alive = [pid for pid in json.loads(users.read_text()) if psutil.pid_exists(pid)]
            users.write_text(json.dumps(alive))
