"""The `aijobs` command: first-start admin, `users` management, and the terminal client."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.processes import start_server
from tests.support.simulator import Simulator
from tests.support.waiting import job_reaches

KEY = re.compile(r"aij_[A-Za-z0-9_-]{20,}")


def aijobs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True, timeout=60)


def test_first_start_creates_an_admin_and_prints_its_key_once(service_env: dict[str, str], sim: Simulator) -> None:
    env = {**service_env, "OLLAMA_BASE_URL": sim.base_url}
    server, base_url = start_server(env)
    server.stop()
    banner = server.output()
    assert "First start: created admin user 'admin'" in banner
    key = KEY.search(banner)
    assert key is not None
    again, base_url = start_server(env)
    try:
        me = httpx.get(f"{base_url}/api/ai-agent/me", headers={"Authorization": f"Bearer {key.group()}"}).json()
        assert me == {"id": "admin", "username": "admin", "is_admin": True}
    finally:
        again.stop()
    assert "First start" not in again.output()


def test_users_create_list_and_revoke(service_env: dict[str, str]) -> None:
    created = aijobs(service_env, "users", "create", "jdube", "--admin", "--label", "laptop")
    assert created.returncode == 0, created.stderr
    assert "Created admin 'jdube'" in created.stdout and KEY.search(created.stdout)
    duplicate = aijobs(service_env, "users", "create", "jdube")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    listed = aijobs(service_env, "users", "list")
    assert re.search(r"jdube\s+admin\s+keys: 1", listed.stdout), listed.stdout
    key_id = re.search(r"key (\d+)", listed.stdout)
    assert key_id is not None
    assert aijobs(service_env, "users", "revoke", key_id.group(1)).returncode == 0
    assert "revoked" in aijobs(service_env, "users", "list").stdout
    assert aijobs(service_env, "users", "revoke", key_id.group(1)).returncode == 1


def test_help_lists_every_command() -> None:
    result = aijobs({}, "--help")
    for command in ("serve", "worker", "migrate", "users", "hosts", "simulate-ollama"):
        assert command in result.stdout


async def test_terminal_client_submit_wait_status_jobs_lock_cancel(
    engine: AsyncEngine, db: asyncpg.Pool, service_env: dict[str, str], sim: Simulator
) -> None:
    from tests.support.auth import create_user

    _, token = await create_user(engine, "jdube")
    server, base_url = start_server({**service_env, "OLLAMA_BASE_URL": sim.base_url})
    env = {**service_env, "AIJOBS_URL": base_url, "AIJOBS_TOKEN": token}
    try:
        request = '{"model": "tinyllama", "prompt": "Say hi"}'
        done = aijobs(env, "submit", "generate", "--json", request, "--wait", "--result")
        assert done.returncode == 0, done.stderr
        assert "queued" in done.stderr and '"response"' in done.stdout
        assert aijobs(env, "lock").stdout.startswith("GPU free (1 slot(s)); 0 job(s) queued.")
        sim.configure(token_delay=0.1, tokens=300)  # the next job holds the GPU until cancelled
        job_id = aijobs(env, "submit", "generate", "--json", request, "--details", "Case 7").stdout.strip()
        assert re.fullmatch(r"[0-9a-f-]{36}", job_id)
        await job_reaches(db, uuid.UUID(job_id), {"running"})
        assert f"{job_id}  generate   running" in aijobs(env, "status", job_id).stdout
        assert aijobs(env, "jobs").stdout.count("generate") == 2
        assert "gpu/0: AI Text Generation · Case 7 · started by jdube" in aijobs(env, "lock").stdout
        cancelled = aijobs(env, "cancel", job_id)
        assert cancelled.returncode == 0 and "Cancel sent" in cancelled.stdout
        await job_reaches(db, uuid.UUID(job_id), {"cancelled"})
        again = aijobs(env, "cancel", job_id)
        assert again.returncode == 1 and "already ended" in again.stderr
        assert aijobs({**env, "AIJOBS_TOKEN": "aij_wrong"}, "jobs").stderr.startswith("aijobs: 401")
        bad_json = aijobs(env, "submit", "generate", "--json", "{not json")
        assert bad_json.returncode == 1 and "--json is not valid JSON" in bad_json.stderr
    finally:
        server.stop()
