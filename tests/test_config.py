"""Configuration: defaults, and a clear message naming the variable when a value is wrong."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.config import ConfigError, load_settings


def test_defaults_match_the_readme(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_CONCURRENT_JOBS", "OLLAMA_BASE_URL", "DATABASE_URL", "LEASE_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.max_concurrent_jobs == 1
    assert settings.ollama_base_url == "http://localhost:11434"
    assert settings.database_url is None
    assert settings.lease_ttl_seconds == 30


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("MAX_CONCURRENT_JOBS", "abc", "MAX_CONCURRENT_JOBS='abc': Input should be a valid integer"),
        ("MAX_CONCURRENT_JOBS", "0", "MAX_CONCURRENT_JOBS='0': Input should be greater than or equal to 1"),
        ("LEASE_TTL_SECONDS", "-5", "LEASE_TTL_SECONDS='-5': Input should be greater than 0"),
        ("JOB_PROCESSING_INTERVAL", "soon", "JOB_PROCESSING_INTERVAL='soon'"),
        ("AIJOBS_DATA_DIR", "", None),  # an empty path is allowed (current directory)
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str | None
) -> None:
    monkeypatch.setenv(name, value)
    if expected is None:
        load_settings()
        return
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert expected in str(error.value)


def test_the_cli_refuses_to_start_with_a_bad_value() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker"],
        env={"MAX_CONCURRENT_JOBS": "many", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Invalid configuration" in result.stderr and "MAX_CONCURRENT_JOBS='many'" in result.stderr


def test_help_lists_every_command() -> None:
    result = subprocess.run([sys.executable, "-m", "app.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("serve", "worker", "migrate", "simulate-ollama"):
        assert command in result.stdout


def test_the_readme_documents_every_variable() -> None:
    from pathlib import Path

    from app.config import Settings

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    names = [(field.alias or name).upper() for name, field in Settings.model_fields.items()]
    missing = [name for name in names if f"`{name}`" not in readme]
    assert missing == [], f"add these to the README's configuration table: {missing}"
