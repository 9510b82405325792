"""Service configuration, read once from environment variables (and an optional `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """The environment holds a value the service cannot run with; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL. Unset: start the embedded PostgreSQL in AIJOBS_DATA_DIR."
    )
    data_dir: Path = Field(
        default=Path(".aijobs"), alias="AIJOBS_DATA_DIR", description="Where the embedded PostgreSQL keeps data."
    )
    ollama_base_url: str = Field(default="http://localhost:11434", description="The Ollama server jobs run on.")
    ollama_connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to connect to Ollama.")
    ollama_read_timeout: float = Field(
        default=120.0, gt=0, description="Seconds Ollama may stay silent mid-request before the attempt is retried."
    )
    max_concurrent_jobs: int = Field(default=1, ge=1, le=64, description="GPU slots: jobs that may run at once.")
    job_processing_interval: float = Field(
        default=5.0, gt=0, le=3600, description="Safety-net poll in seconds; wake-ups normally come by NOTIFY."
    )
    max_job_retries: int = Field(default=3, ge=0, le=100, description="Retries of a transient failure.")
    retry_backoff_base: float = Field(default=1.0, gt=0, description="First retry delay in seconds (doubles).")
    retry_backoff_max: float = Field(default=300.0, gt=0, description="Cap on the retry delay in seconds.")
    lease_ttl_seconds: float = Field(
        default=30.0, gt=0, le=86400, description="A lease not renewed for this long is free (crash recovery)."
    )
    job_cleanup_days: float = Field(default=7, gt=0, description="Finished jobs older than this are deleted.")
    shutdown_grace_seconds: float = Field(
        default=10.0, ge=0, description="On shutdown, how long running jobs may finish before being re-queued."
    )
    progress_write_interval: float = Field(
        default=0.5, gt=0, description="At most one progress write per job per this many seconds."
    )
    run_processor: bool = Field(
        default=True, description="Run the job processor inside the API process (false: use `aijobs worker`)."
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port the HTTP server binds.")
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        name = Settings.model_fields[field].alias or field if field in Settings.model_fields else field
        value = item.get("input")
        lines.append(f"{name.upper()}={value!r}: {item['msg']}")
    return "Invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's report into one that names each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
