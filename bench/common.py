"""What the benchmark modules share: the PostgreSQL server and its databases, figures (percentiles),
a minimal HTTP/1.1 load client, and a counter of the round trips asyncpg makes."""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psutil
from asyncpg.protocol import Protocol
from sqlalchemy.engine import make_url

from app import db, migrate
from app.services.accounts import sql as accounts_sql
from app.services.leases import sql as lease_sql
from app.services.queue import sql as queue_sql
from app.services.realtime import pg_manager

TEMPLATE = "bench_template"


# ---- databases -------------------------------------------------------------------------------------


def database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def create_template(server_url: str) -> None:
    """One database migrated to head; every bench database is a copy of it."""
    conn = await db.connect_raw(server_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await conn.close()
    await migrate.upgrade_async(database_url(server_url, TEMPLATE))


async def fresh_database(server_url: str, name: str) -> str:
    """A new database with aijobs' schema (a copy of the template); its URL."""
    conn = await db.connect_raw(server_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    finally:
        await conn.close()
    return database_url(server_url, name)


# ---- figures ---------------------------------------------------------------------------------------


def figure(value: float) -> str:
    """A measured value with as many digits as it deserves: 1,234 · 12.3 · 1.23."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def print_table(header: tuple[str, ...], lines: list[tuple[str, ...]], left: tuple[int, ...]) -> None:
    """Columns as wide as their widest cell, the `left` ones left-aligned, a rule under the header."""
    widths = [max(len(line[n]) for line in [header, *lines]) for n in range(len(header))]
    for n, line in enumerate([header, *lines]):
        cells = [
            cell.ljust(width) if column in left else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# ---- HTTP load ---------------------------------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection that sends ready-made requests and reads whole answers
    (Content-Length or chunked). Far cheaper per request than a full client, so on two cores the
    load generator takes as little CPU from the server it measures as it can."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    @staticmethod
    def build(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> bytes:
        data = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + data

    async def send(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = head.lower()
        found = re.search(rb"\r\ncontent-length: *(\d+)", headers)
        if found:
            return status, await self.reader.readexactly(int(found.group(1)))
        body = b""
        while True:  # chunked
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return status, body
            body += chunk[:-2]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class CpuWatch:
    """CPU time (user + system) of a server process and of the PostgreSQL server (postmaster and every
    backend), to tell what a request costs each of them."""

    def __init__(self, server_pid: int, postmaster_pid: int) -> None:
        self.server = psutil.Process(server_pid)
        self.postmaster = psutil.Process(postmaster_pid)

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return times.user + times.system

    def snapshot(self) -> dict[str, dict[int, float]]:
        postgres = [self.postmaster, *self.postmaster.children()]
        return {
            "server": {self.server.pid: self._cpu(self.server)},
            "postgres": {process.pid: self._cpu(process) for process in postgres},
        }

    @staticmethod
    def spent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
        """Seconds each side spent between the two snapshots (a backend that started meanwhile from 0)."""
        return {
            side: sum(seconds - before[side].get(pid, 0.0) for pid, seconds in pids.items())
            for side, pids in after.items()
        }


@dataclass
class Loaded:
    rate: float  # requests per second
    latencies: list[float]  # seconds
    cpu_per_request: dict[str, float]  # seconds, by CpuWatch side


async def load(
    host: str,
    port: int,
    requests: list[bytes],
    *,
    clients: int,
    seconds: float,
    expect: int,
    watch: CpuWatch | None = None,
) -> Loaded:
    """`clients` connections each send their request (requests[i % len]) back to back for `seconds`
    (after a short warm-up); the rate, every latency, and the CPU each request cost `watch`'s sides."""
    latencies: list[float] = []
    counting = False
    stop = False

    async def client(request: bytes) -> None:
        connection = HttpConnection(host, port)
        try:
            while not stop:
                started = time.perf_counter()
                status, body = await connection.send(request)
                if status != expect:
                    raise RuntimeError(f"expected {expect}, got {status}: {body[:300]!r}")
                if counting:
                    latencies.append(time.perf_counter() - started)
        finally:
            connection.close()

    tasks = [asyncio.create_task(client(requests[n % len(requests)])) for n in range(clients)]
    await asyncio.sleep(min(0.5, seconds / 4))  # connections open, caches warm
    before = watch.snapshot() if watch else {}
    counting = True
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    counting = False
    elapsed = time.perf_counter() - started
    spent = CpuWatch.spent(before, watch.snapshot()) if watch else {}
    counted = len(latencies)
    stop = True
    await asyncio.gather(*tasks)
    return Loaded(counted / elapsed, latencies, {side: cpu / counted for side, cpu in spent.items()})


# ---- round trips -------------------------------------------------------------------------------------

RESET_LABEL = "asyncpg pool reset on release"


def _statement_names() -> dict[str, str]:
    """The text each named statement reaches the server with: asyncpg's (`db.Statement`, `$n`) and
    the accounts' SQLAlchemy `text()` ones (which SQLAlchemy numbers the same way)."""
    names: dict[str, str] = {}
    for module in (queue_sql, lease_sql):
        for name, value in vars(module).items():
            if isinstance(value, db.Statement):
                names[value.sql] = name
    for name, value in vars(accounts_sql).items():
        if name.isupper() and isinstance(value, str):
            names[db.Statement(value).sql] = f"accounts {name} (SQLAlchemy)"
    names[pg_manager.SOCKETIO_PUBLISH] = "Socket.IO message (pg_manager NOTIFY)"
    return names


class RoundTrips:
    """Counts the requests asyncpg sends from this process, by statement. asyncpg writes each request
        in one piece and waits for its answer: a simple query (`Q`), a prepare (`P…S`) or a bind and
        execute (`B E S`) is one round trip each. Statements of `sql.py` are named as there; the query
        a pool sends when a connection goes back to it is named RESET_LABEL, with the statement the
    connection had been taken for.

        `install()` wraps the write of asyncio's own socket transport (the bench process runs on the
        default event loop) for asyncpg's connections, for the whole run: it has to see each statement
        being prepared to name it when it is executed later. `counted()` gives what was sent meanwhile."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._names = _statement_names()
        self._prepared: dict[tuple[int, bytes], str] = {}
        self._last: dict[int, str] = {}  # per connection: the statement it sent last

    def label(self, query: str) -> str:
        name = self._names.get(query)
        if name is not None:
            return name
        if query.startswith("SELECT pg_advisory_unlock_all();"):
            return RESET_LABEL
        lines = [line for line in query.splitlines() if not line.lstrip().startswith("--")]
        return " ".join(" ".join(lines).split())[:60]

    def _seen(self, transport: object, data: bytes) -> None:
        position, label = 0, "connect"
        while position + 5 <= len(data):
            kind = data[position : position + 1]
            size = int.from_bytes(data[position + 1 : position + 5], "big")
            body = data[position + 5 : position + 1 + size]
            if kind == b"Q":
                label = self.label(body[:-1].decode())
                if label == RESET_LABEL:  # which statement the pool connection had been taken for
                    label = f"{RESET_LABEL} (after {self._last.get(id(transport), '?')})"
                self._last[id(transport)] = label
                self.counts[label] += 1
                return
            if kind == b"P":
                name, query = body.split(b"\0")[:2]
                label = "prepare " + self.label(query.decode())
                self._prepared[(id(transport), name)] = self.label(query.decode())
            elif kind == b"B":
                name = body.split(b"\0")[1]
                label = self._prepared.get((id(transport), name), "unnamed statement")
            elif kind == b"S":
                self._last[id(transport)] = label
                self.counts[label] += 1
            elif kind not in b"DEHCX":  # the startup message and authentication have no such type byte
                self.counts["connect"] += 1
                return
            position += 1 + size

    def install(self) -> None:
        transport = asyncio.selector_events._SelectorSocketTransport
        original = transport.write
        seen = self._seen

        def write(self: Any, data: Any) -> None:
            if isinstance(self._protocol, Protocol):
                seen(self, bytes(data))
            original(self, data)

        transport.write = write  # type: ignore[method-assign]

    @contextmanager
    def counted(self) -> Iterator[Counter[str]]:
        """The round trips sent inside the block, by statement (filled in when the block ends)."""
        before = self.counts.copy()
        sent: Counter[str] = Counter()
        yield sent
        sent.update(self.counts - before)


WIRE = RoundTrips()
