"""The `aijobs` command: first-start admin, `users` management, and the terminal client."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx

from tests.support.processes import start_server
from tests.support.simulator import Simulator

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
    for command in ("serve", "worker", "migrate", "users", "simulate-ollama"):
        assert command in result.stdout
