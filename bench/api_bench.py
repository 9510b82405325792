"""The HTTP side: `aijobs serve` and the hello app (`bench/floors.py`) as subprocesses on the same
uvicorn settings, loaded over real HTTP from this process; and the drop-in `/api/generate` through
aijobs against the same request sent straight to the Ollama stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.queue import store
from bench.common import CpuWatch, HttpConnection, load, percentile
from tests.support.auth import create_user
from tests.support.processes import ServiceProcess, free_port, start_server

CLIENTS = 8
SUBMIT_BODY = {
    "job_type": "generate",
    "request": {"model": "tinyllama", "prompt": "Why is the sky blue?"},
    "details": "bench submit",
}
BACKGROUND_QUEUED = 100  # jobs queued ahead of the ones whose status is asked


def service_env(url: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAX_", "JOB_", "LEASE_"))}
    env.update(DATABASE_URL=url, LOG_LEVEL="WARNING", MAX_QUEUED_PER_USER="1000000000", **extra)
    return env


def start_aijobs(url: str, *, processor: bool, ollama_url: str | None = None) -> tuple[ServiceProcess, str]:
    extra = {"OLLAMA_BASE_URL": ollama_url} if ollama_url else {}
    return start_server(service_env(url, **extra), processor=processor)


class Hello:
    """The hello app in a process of its own."""

    def __init__(self, url: str) -> None:
        port = free_port()
        script = Path(__file__).with_name("floors.py")
        self.process = subprocess.Popen(
            [sys.executable, str(script), "hello", "--port", str(port), "--database-url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.base_url}/hello", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the hello app did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@dataclass
class Load:
    rate: float  # requests per second
    p50: float  # seconds
    server_cpu: float  # seconds of the server process's CPU per request
    postgres_cpu: float  # seconds of PostgreSQL's CPU per request


def address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


async def measure(base_url: str, requests: list[bytes], seconds: float, expect: int, watch: CpuWatch) -> Load:
    host, port = address(base_url)
    loaded = await load(host, port, requests, clients=CLIENTS, seconds=seconds, expect=expect, watch=watch)
    cpu = loaded.cpu_per_request
    return Load(loaded.rate, percentile(loaded.latencies, 50), cpu["server"], cpu["postgres"])


@dataclass
class ApiSetup:
    """Eight users, each with a queued job whose status they ask, behind a queue of 100 more."""

    tokens: list[str]
    job_ids: list[uuid.UUID]

    def status_requests(self) -> list[bytes]:
        return [
            HttpConnection.build("GET", f"/api/ai-agent/job/{job}/status", headers={"Authorization": f"Bearer {token}"})
            for job, token in zip(self.job_ids, self.tokens, strict=True)
        ]

    def hello_query_requests(self) -> list[bytes]:
        return [HttpConnection.build("GET", f"/hello/query/{job}") for job in self.job_ids]

    def submit_requests(self) -> list[bytes]:
        return [
            HttpConnection.build("POST", "/api/ai-agent/jobs", SUBMIT_BODY, {"Authorization": f"Bearer {token}"})
            for token in self.tokens
        ]


async def prepare_api(engine: AsyncEngine, pool: asyncpg.Pool) -> ApiSetup:
    users = [await create_user(engine, f"client{n}") for n in range(CLIENTS)]
    request = {"model": "tinyllama", "prompt": "queued ahead"}
    for n in range(BACKGROUND_QUEUED):
        user = users[n % CLIENTS][0]
        new = store.NewJob(user_id=user.id, username=user.username, job_type="generate", request_data=request)
        await store.enqueue(pool, new, quota=1 << 30)
    job_ids = []
    for user, _token in users:
        new = store.NewJob(user_id=user.id, username=user.username, job_type="generate", request_data=request)
        job_ids.append((await store.enqueue(pool, new, quota=1 << 30)).job.id)
    return ApiSetup([token for _user, token in users], job_ids)


# The jobs a submit run queued are cancelled after it, so each run submits into the same queue.
CANCEL_SUBMITTED = """
WITH cancelled AS (
    UPDATE ai_jobs SET status = 'cancelled', finished_at = now(), updated_at = now()
    WHERE status = 'queued' AND details = 'bench submit'
    RETURNING pool, user_id
)
UPDATE pool_users u SET queued = u.queued - c.n
FROM (SELECT pool, user_id, count(*) AS n FROM cancelled GROUP BY pool, user_id) c
WHERE u.pool = c.pool AND u.user_id = c.user_id
"""


# ---- the broker: /api/generate through aijobs, or straight at the stand-in --------------------------

GENERATE_BODY: dict[str, Any] = {"model": "tinyllama", "prompt": "Why is the sky blue?", "stream": False}


async def sequential(base_url: str, request: bytes, count: int, expect: int = 200) -> list[tuple[float, float]]:
    """One client, `count` requests one after another on one connection; when each was sent and its
    answer read (wall clock, comparable with the stand-in's request log)."""
    host, port = address(base_url)
    connection = HttpConnection(host, port)
    spans = []
    try:
        for _ in range(count):
            sent = time.time()
            status, body = await connection.send(request)
            if status != expect:
                raise RuntimeError(f"expected {expect}, got {status}: {body[:300]!r}")
            spans.append((sent, time.time()))
    finally:
        connection.close()
    return spans


def latencies(spans: list[tuple[float, float]]) -> list[float]:
    return [received - sent for sent, received in spans]


def through_ollama(sim: Any, spans: list[tuple[float, float]]) -> dict[str, list[float]]:
    """Each request's time split at the stand-in's log: before its generate request arrived, in it,
    and after its reply ended."""
    log = sorted((e for e in sim.stats()["log"] if e["endpoint"] == "generate"), key=lambda e: e["start"])
    assert len(log) == len(spans), (len(log), len(spans))
    return {
        "request -> Ollama": [entry["start"] - sent for (sent, _), entry in zip(spans, log, strict=True)],
        "in Ollama": [entry["end"] - entry["start"] for entry in log],
        "Ollama -> answer": [received - entry["end"] for (_, received), entry in zip(spans, log, strict=True)],
    }


def generate_request(token: str | None) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return HttpConnection.build("POST", "/api/generate", GENERATE_BODY, headers)
