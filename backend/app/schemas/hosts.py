"""Bodies and answers of the GPU hosts endpoints (`/api/ai-agent/hosts`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NAME_HELP = "1-63 lower-case letters, digits, `.`, `_` or `-`, starting with a letter or digit."
MEMORY_HELP = 'GPU memory: bytes, or a size such as "24GiB" or "16GB"; null: unknown (no fit check).'
LABELS_HELP = "What jobs may require of the host (e.g. `a100`): letters, digits, `.`, `_`, `:` or `-`."


class AddHost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description=NAME_HELP, examples=["box-a"])
    base_url: str = Field(description="The http(s):// URL of its Ollama.", examples=["http://10.0.0.1:11434"])
    slots: int = Field(default=1, description="Jobs it runs at once, 1-64.")
    gpu_memory: int | str | None = Field(default=None, description=MEMORY_HELP, examples=["24GiB"])
    labels: list[str] = Field(default_factory=list, description=LABELS_HELP)


class UpdateHost(BaseModel):
    """What is left out stays as it was; `gpu_memory: null` forgets the memory."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(default=None, description="The http(s):// URL of its Ollama.")
    slots: int | None = Field(default=None, description="Jobs it runs at once, 1-64.")
    gpu_memory: int | str | None = Field(default=None, description=MEMORY_HELP)
    labels: list[str] | None = Field(default=None, description=LABELS_HELP)


class LoadedModel(BaseModel):
    name: str
    size: int | None = Field(default=None, description="Bytes of GPU memory it takes (Ollama's size_vram).")
    expires_at: str | None = Field(default=None, description="When Ollama unloads it, as Ollama said it.")


class RunningJob(BaseModel):
    slot: int | None
    job_id: uuid.UUID | None = Field(description="null for a slot an admin holds by hand.")
    username: str | None
    operation: str | None
    model: str | None
    since: datetime


class HostCost(BaseModel):
    """What jobs taught about running a model on this host (moving averages and totals)."""

    model: str
    loads: int
    load_seconds: float | None
    run_seconds: float | None
    tokens_per_second: float | None
    jobs: int
    failures: int
    loading_seconds_total: float
    busy_seconds_total: float


class HostView(BaseModel):
    name: str
    base_url: str | None = Field(description="Only admins see it (it is an internal address); null for others.")
    slots: int
    gpu_memory: int | None = Field(description="Bytes; null: unknown.")
    labels: list[str]
    state: Literal["up", "down", "draining"] = Field(
        description="draining: finishes what runs, takes nothing new; down: not answering the prober."
    )
    reachable: bool
    draining: bool
    version: str | None = Field(description="Its Ollama's version, as last probed.")
    probed_at: datetime | None
    loaded: list[LoadedModel] = Field(description="Models loaded on it at the last probe.")
    running: list[RunningJob] = Field(description="Its busy slots: the job, its user and model, since when.")
    queued_warm: int = Field(description="Queued jobs whose model is loaded here.")
    costs: list[HostCost]


class FleetView(BaseModel):
    scheduler: Literal["placement", "fifo"]
    max_bypass_seconds: float = Field(description="SCHEDULER_MAX_BYPASS_SECONDS: the aging bound of placement.")
    hosts: list[HostView]
