"""Database connections: the SQLAlchemy engine for queries, raw asyncpg for LISTEN, and the embedded server."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

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
    # pre-ping: a connection that died with the database (a restart) is replaced before it is used, so the
    # first request after the database returns succeeds.
    return create_async_engine(async_url(url), pool_size=pool_size, max_overflow=10, pool_pre_ping=True)


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


# ---- raw asyncpg, for the queue's hot paths ------------------------------------------------------------

_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class Statement:
    """One SQL statement written with `:name` parameters, run on asyncpg (which wants `$1, $2, …`).

    Converted once, at import; asyncpg prepares each statement once per connection and reuses it.
    `::type` casts are left alone.
    """

    def __init__(self, sql: str) -> None:
        self.names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.names:
                self.names.append(name)
            return f"${self.names.index(name) + 1}"

        self.sql = _NAMED.sub(number, sql)

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]

    async def fetch(self, conn: Executor, **params: Any) -> list[asyncpg.Record]:
        return await conn.fetch(self.sql, *self.args(params))

    async def fetchrow(self, conn: Executor, **params: Any) -> asyncpg.Record | None:
        return await conn.fetchrow(self.sql, *self.args(params))

    async def fetchval(self, conn: Executor, **params: Any) -> Any:
        return await conn.fetchval(self.sql, *self.args(params))

    async def execute(self, conn: Executor, **params: Any) -> str:
        return await conn.execute(self.sql, *self.args(params))


Executor = asyncpg.Connection | asyncpg.pool.Pool | asyncpg.pool.PoolConnectionProxy


async def _init_connection(conn: asyncpg.Connection) -> None:
    """jsonb in and out as Python values, as SQLAlchemy's connections do."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """What a connection goes back to the pool with: nothing to undo. The pool's own reset (UNLISTEN,
    RESET ALL, unlock, CLOSE) would cost a round trip after every statement; these connections never
    LISTEN, SET or take session locks (LISTEN has its own connection, advisory locks are per transaction)."""


MAX_CACHED_STATEMENT = 64 * 1024  # bytes; the queue's longest statement must fit (tests/test_db.py)


# A processor's connections. `force_generic_plan`: plan each prepared statement once, for any parameters.
# CLAIM and FINISH are long chains of CTEs that take 5-10 ms to plan and about 1 ms to run. PostgreSQL
# plans the first five calls on each connection for their parameters, and keeps doing so for a statement
# whose parameters switch a part of it off (FINISH without :reserve_ahead), which then costs ten times
# what running it does.
# `enable_bitmapscan = off`: their pick takes each user's first eligible queued job by walking an index in
# queue order (`ai_jobs_claim_idx`). With statistics of a deep queue, the planner reckons the eligibility
# filters so selective that it gathers each user's whole queue by bitmap and sorts it instead: a FINISH
# took 16 ms at 2,000 queued jobs of 20 users and 32 ms at 5,000 of 50, against 3 ms with the index walk
# (and 2.3 ms at 200). Its other statements read by key or short index ranges; only the cleaner's batch
# delete of old jobs may be a little slower without bitmap scans, once in a while.
PROCESSOR_SETTINGS = {"plan_cache_mode": "force_generic_plan", "enable_bitmapscan": "off"}


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10, processor: bool = False) -> asyncpg.Pool:
    """A pool of raw asyncpg connections (the queue's statements, status, submit); `processor`: with the
    planner settings of a processor's pool (PROCESSOR_SETTINGS)."""
    pool = await asyncpg.create_pool(
        asyncpg_dsn(url),
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        # asyncpg caches statements up to 15 KiB by default; CLAIM and FINISH are longer, and uncached
        # they would be parsed and planned on every call.
        max_cacheable_statement_size=MAX_CACHED_STATEMENT,
        server_settings=PROCESSOR_SETTINGS if processor else None,
    )
    assert pool is not None
    return pool


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
