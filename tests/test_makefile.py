"""The Makefile: the ports come from variables, and the page is rebuilt only when its sources changed.
Each case runs the real Makefile with `make -n` (print, do not run) in a copy of the tree's shape, so
file times are ours to set."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    "frontend/src/main.tsx",
    "frontend/src/features/jobs/api.ts",
    "frontend/index.html",
    "frontend/package.json",
    "frontend/package-lock.json",
    "frontend/openapi.json",
    "frontend/vite.config.ts",
    "frontend/tsconfig.json",
]
BUILD = "cd frontend && npm run build"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The Makefile with everything installed and the page built after its sources were last changed."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    made = ["pyproject.toml", "setup.py", *SOURCES, ".venv/.installed", "frontend/node_modules/.installed"]
    for index, name in enumerate([*made, "frontend/dist/index.html"]):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        os.utime(path, (1_000_000 + index, 1_000_000 + index))  # each newer than the one before
    return tmp_path


def make(tree: Path, *args: str) -> list[str]:
    """The commands `make` would run, one per line. Run as a top-level make: under `make test` the
    inherited MAKELEVEL/MAKEFLAGS would make it print "Entering directory" lines among the commands."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", *args], cwd=tree, capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.replace("\\\n", " ").splitlines()


def changed(tree: Path, name: str) -> None:
    os.utime(tree / name, (2_000_000, 2_000_000))


def test_run_starts_at_once_when_the_page_is_built(tree: Path) -> None:
    assert make(tree, "run") == [".venv/bin/aijobs serve"]


@pytest.mark.parametrize("source", SOURCES)
def test_a_changed_source_rebuilds_the_page_before_serving(tree: Path, source: str) -> None:
    changed(tree, source)
    commands = make(tree, "run")
    assert BUILD in commands and commands[-1] == ".venv/bin/aijobs serve"


def test_changed_packages_are_installed_then_the_page_built(tree: Path) -> None:
    changed(tree, "frontend/package-lock.json")
    commands = make(tree, "page")
    assert commands.index("cd frontend && npm install --no-audit --no-fund") < commands.index(BUILD)


def test_a_missing_page_is_built(tree: Path) -> None:
    (tree / "frontend/dist/index.html").unlink()
    assert BUILD in make(tree, "page")


def test_ports_come_from_port_and_ollama_port(tree: Path) -> None:
    assert make(tree, "run", "PORT=8123") == [".venv/bin/aijobs serve --port 8123"]
    assert make(tree, "simulate-ollama", "OLLAMA_PORT=11555") == [".venv/bin/aijobs simulate-ollama --port 11555"]
    (demo,) = make(tree, "demo", "PORT=8123", "OLLAMA_PORT=11555")
    assert ".venv/bin/aijobs simulate-ollama --port 11555 &" in demo
    assert demo.endswith("OLLAMA_BASE_URL=http://127.0.0.1:11555 .venv/bin/aijobs serve --port 8123")


def test_the_defaults_are_the_services_own(tree: Path) -> None:
    (demo,) = make(tree, "demo")
    assert "simulate-ollama --port 11434 &" in demo
    assert demo.endswith("OLLAMA_BASE_URL=http://127.0.0.1:11434 .venv/bin/aijobs serve")  # PORT: 8000 or its own
