"""The embedded PostgreSQL (no DATABASE_URL): `aijobs serve` and `aijobs worker` stop the server they
started on every way out — SIGTERM (kill, docker stop, systemd, CI), SIGINT (Ctrl-C), a start that
fails — so no `postgres` is left holding the data directory, and the next start on it works."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.processes import ServiceProcess, free_port, start_server, start_worker


def postgres_of(pgdata: Path) -> list[psutil.Process]:
    """The postgres processes serving `pgdata`: the postmaster names it on its command line (`-D`), and
    every backend runs in it (their command lines are rewritten to `postgres: checkpointer` and such)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline", "cwd"]):
        info = process.info
        if info["name"] == "postgres" and (str(pgdata) in (info["cmdline"] or []) or info["cwd"] == str(pgdata)):
            found.append(process)
    return found


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    """An environment without DATABASE_URL: the service starts its own PostgreSQL in a fresh data dir.
    Ollama is a closed port: nothing here runs a job."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(AIJOBS_DATA_DIR=str(tmp_path / "data"), OLLAMA_BASE_URL=f"http://127.0.0.1:{free_port()}")
    return env


@pytest.fixture
def pgdata(tmp_path: Path) -> Path:
    return (tmp_path / "data" / "pgdata").resolve()


@pytest.fixture(autouse=True)
def no_orphans_after(pgdata: Path):
    """Whatever a test leaves behind is stopped, so a failing test does not leak a server."""
    yield
    left = postgres_of(pgdata)
    for process in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    psutil.wait_procs(left, timeout=10)


def stopped_by(server: ServiceProcess, signum: signal.Signals) -> int:
    """Send `signum` and wait for the process to exit; its exit status."""
    server.process.send_signal(signum)
    server.process.wait(30)
    return server.stop()  # only closes its log now


def test_sigterm_stops_the_embedded_postgres_and_the_next_start_works(
    embedded_env: dict[str, str], pgdata: Path
) -> None:
    server, _ = start_server(embedded_env)
    assert postgres_of(pgdata), server.output()
    status = stopped_by(server, signal.SIGTERM)
    assert postgres_of(pgdata) == [], server.output()
    assert status == 0, server.output()  # a stop that was asked for, done cleanly

    again, base_url = start_server(embedded_env)  # the same data directory: its data, a new server
    assert httpx.get(f"{base_url}/health").json()["database"] == "connected"
    assert "First start" not in again.output()  # the admin created by the first start is still there
    stopped_by(again, signal.SIGINT)
    assert postgres_of(pgdata) == [], again.output()


def test_the_worker_stops_the_embedded_postgres_on_sigterm(embedded_env: dict[str, str], pgdata: Path) -> None:
    worker = start_worker(embedded_env)
    assert postgres_of(pgdata)
    status = stopped_by(worker, signal.SIGTERM)
    assert postgres_of(pgdata) == [], worker.output()
    assert status == 0, worker.output()


def wait_for_postgres(pgdata: Path, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not postgres_of(pgdata):
        assert process.poll() is None, "exited before its database started"
        assert time.monotonic() < deadline, f"no postgres for {pgdata} after {timeout}s"
        time.sleep(0.02)  # polling the process table for the server to appear, bounded by the deadline


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_sigterm_during_start_up_stops_the_embedded_postgres(
    embedded_env: dict[str, str], pgdata: Path, command: str
) -> None:
    """The signal arrives as soon as the database is up: while it is migrated, before anything serves."""
    starting = ServiceProcess([command, "--port", str(free_port())] if command == "serve" else [command], embedded_env)
    wait_for_postgres(pgdata, starting.process)
    status = stopped_by(starting, signal.SIGTERM)
    assert postgres_of(pgdata) == [], starting.output()
    assert status == 0, starting.output()


def test_a_failed_start_stops_the_embedded_postgres(embedded_env: dict[str, str], pgdata: Path) -> None:
    with socket.socket() as taken:  # the port is in use: the server cannot bind once its database is up
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        failing = ServiceProcess(["serve", "--port", str(taken.getsockname()[1])], embedded_env)
        failing.process.wait(60)
    assert failing.stop() != 0
    assert "address already in use" in failing.output().lower()
    assert postgres_of(pgdata) == [], failing.output()


def test_a_server_left_by_a_killed_process_is_stopped_by_the_next_one(
    embedded_env: dict[str, str], pgdata: Path
) -> None:
    """kill -9 leaves the server behind (nothing can run then); the next start joins it, and the next
    clean exit stops it, though the killed process is still written down as one of its users."""
    killed, _ = start_server(embedded_env)
    killed.kill9()
    killed.stop()
    assert postgres_of(pgdata)
    again, _ = start_server(embedded_env)
    stopped_by(again, signal.SIGTERM)
    assert postgres_of(pgdata) == [], again.output()


def test_every_queue_statement_fits_the_prepared_statement_cache() -> None:
    """asyncpg prepares and caches only statements up to `max_cacheable_statement_size`; a longer one is
    parsed and planned again on every call (CLAIM and FINISH then cost ten times as much)."""
    from app import db
    from app.db import Statement
    from app.services.queue import sql

    statements = {name: value for name, value in vars(sql).items() if isinstance(value, Statement)}
    assert {"CLAIM", "FINISH"} <= set(statements)
    sizes = {name: len(statement.sql.encode()) for name, statement in statements.items()}
    too_long = {name: size for name, size in sizes.items() if size > db.MAX_CACHED_STATEMENT}
    assert not too_long, f"raise db.MAX_CACHED_STATEMENT or shorten: {too_long}"
