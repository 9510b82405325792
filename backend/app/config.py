"""Service configuration, read once from environment variables (and an optional `.env`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    ollama_hosts: str | None = Field(
        default=None,
        description="GPU hosts, `;`-separated, each `NAME URL [slots=N] [memory=SIZE] [labels=a,b]`, e.g. "
        "`box-a http://10.0.0.1:11434 slots=2 memory=24GiB labels=a100; box-b http://10.0.0.2:11434`. Unset: "
        "one host, OLLAMA_BASE_URL with MAX_CONCURRENT_JOBS slots. Admins add more over the API.",
    )
    scheduler: Literal["placement", "fifo"] = Field(
        default="placement",
        description="placement: prefer a host that has the job's model loaded (bounded by the aging bound); "
        "fifo: model-blind (priority, fairness, age), for comparison.",
    )
    scheduler_max_bypass_seconds: float = Field(
        default=120.0,
        ge=0,
        description="A job eligible this long goes first among its priority, warm or not: no job is passed over "
        "for warmer work for longer.",
    )
    reserve_ahead: bool = Field(
        default=True,
        description="On a GPU host with one slot, the job that comes next there is reserved while a job runs, "
        "so its request goes to Ollama the moment the running one ends (the GPU does not wait for the queue's "
        "bookkeeping). The reservation lasts as long as the running job's lease; other hosts pass over the "
        "job meanwhile. false: no reservations.",
    )
    host_probe_interval: float = Field(default=3.0, gt=0, description="Seconds between two probes of each host.")
    ollama_connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to connect to Ollama.")
    ollama_read_timeout: float = Field(
        default=120.0, gt=0, description="Seconds Ollama may stay silent mid-request before the attempt is retried."
    )
    default_model: str = Field(
        default="tinyllama", description="Model for canvas and report jobs that do not name one."
    )
    max_concurrent_jobs: int = Field(default=1, ge=1, le=64, description="GPU slots: jobs that may run at once.")
    job_processing_interval: float = Field(
        default=5.0, gt=0, le=3600, description="Safety-net poll in seconds; wake-ups normally come by NOTIFY."
    )
    max_job_retries: int = Field(
        default=5,
        ge=0,
        le=100,
        description="Retries of a transient failure. With the default backoff, 5 retries wait at least "
        "62 s in all (2+4+8+16+32), so a job outlives an Ollama restart of a minute.",
    )
    retry_backoff_base: float = Field(
        default=4.0,
        gt=0,
        description="Retry n (from 0) waits between half and all of min(RETRY_BACKOFF_MAX, base * 2**n) seconds.",
    )
    retry_backoff_max: float = Field(default=300.0, gt=0, description="Cap on the retry delay in seconds.")
    lease_ttl_seconds: float = Field(
        default=30.0, gt=0, le=86400, description="A lease not renewed for this long is free (crash recovery)."
    )
    lease_rescue_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        le=86400,
        description="How long past its expiry a job's lease stays untouchable before the job is rescued and "
        "its GPU slot reused. A runner stops its own GPU work before its lease expires; the grace covers "
        "one that is slow to notice (a starved CPU, a short pause).",
    )
    job_cleanup_days: float = Field(default=7, gt=0, description="Finished jobs older than this are deleted.")
    shutdown_grace_seconds: float = Field(
        default=10.0, ge=0, description="On shutdown, how long running jobs may finish before being re-queued."
    )
    progress_write_interval: float = Field(
        default=0.5, gt=0, description="At most one progress write per job per this many seconds."
    )
    socket_progress_interval: float = Field(
        default=0.1, gt=0, le=10, description="At most one Socket.IO `job:progress` per job per this many seconds."
    )
    training_command: str | None = Field(
        default=None,
        description="Training command; {data}, {output}, {base_model}, {model_name}, {epochs} are filled in. "
        "Unset: the reference trainer (`python -m app.training.reference`).",
    )
    training_dir: Path | None = Field(
        default=None, description="Where training runs keep their data and adapters (default AIJOBS_DATA_DIR/training)."
    )
    training_kill_grace: float = Field(
        default=10.0, ge=0, le=600, description="Seconds between SIGTERM and SIGKILL when a training run is stopped."
    )
    web_dir: Path = Field(default=Path("frontend/dist"), alias="WEB_DIR", description="The built page, served at `/`.")
    run_processor: bool = Field(
        default=True, description="Run the job processor inside the API process (false: use `aijobs worker`)."
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port the HTTP server binds.")
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")

    # --- who may call ---------------------------------------------------------------------------
    auth_mode: Literal["apikey", "jwt", "firebase"] = Field(
        default="apikey",
        description="apikey: keys aijobs issues; jwt: HS256 secret or RS256 JWKS; firebase: ID tokens.",
    )
    jwt_secret: str | None = Field(default=None, description="AUTH_MODE=jwt with HS256: the shared secret.")
    jwt_jwks_url: str | None = Field(default=None, description="AUTH_MODE=jwt with RS256: where the public keys are.")
    jwt_audience: str | None = Field(default=None, description="AUTH_MODE=jwt: required `aud`, if set.")
    jwt_issuer: str | None = Field(default=None, description="AUTH_MODE=jwt: required `iss`, if set.")
    jwt_admin_claim: str = Field(
        default="admin", description="Token claim that makes a user an admin (true, or a role list containing admin)."
    )
    firebase_project_id: str | None = Field(default=None, description="AUTH_MODE=firebase: the Firebase project id.")
    firebase_jwks_url: str = Field(
        default="https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com",
        description="AUTH_MODE=firebase: Google's public keys for ID tokens.",
    )
    admin_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated user ids that are admins whatever their token says."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins allowed to call the API from a browser."
    )
    max_queued_per_user: int = Field(default=100, ge=1, description="Queued jobs one user may have at once (429).")
    max_request_bytes: int = Field(default=10_000_000, ge=1024, description="Largest request body accepted (413).")
    max_wait_seconds: float = Field(default=60.0, ge=0, le=600, description="Upper bound of `?wait=` on a submit.")
    stream_keepalive_seconds: float = Field(
        default=10.0, gt=0, le=300, description="Drop-in fronts: seconds between SSE keep-alive comments while queued."
    )
    daily_token_limit: int | None = Field(
        default=None, ge=1, description="Tokens (prompt + generated) one user may use per UTC day (429); unset: none."
    )

    @field_validator("admin_users", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _auth_complete(self) -> Settings:
        if self.auth_mode == "jwt" and not (self.jwt_secret or self.jwt_jwks_url):
            raise ValueError("AUTH_MODE=jwt needs JWT_SECRET (HS256) or JWT_JWKS_URL (RS256)")
        if self.auth_mode == "firebase" and not self.firebase_project_id:
            raise ValueError("AUTH_MODE=firebase needs FIREBASE_PROJECT_ID")
        return self


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        if not item["loc"]:  # a rule about several variables together
            lines.append(item["msg"].removeprefix("Value error, "))
            continue
        field = str(item["loc"][0])
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
