"""What a job type is: one module holds its request model, its defaults, what people call it and how its
result is shown, and the code that runs it. The queue engine knows job types only through this
interface; `app/services/job_types.py` lists the ones this service runs."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import asyncpg
import ollama
import pydantic
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import Executor
from app.schemas.jobs import ResultKind
from app.services.accounts.users import User
from app.services.queue.errors import PermanentError
from app.services.queue.progress import ProgressReporter
from app.services.queue.store import Job

RequestT = TypeVar("RequestT", bound=pydantic.BaseModel)


@dataclass
class JobContext:
    job: Job
    ollama: ollama.AsyncClient
    progress: ProgressReporter
    engine: AsyncEngine | None = None  # for the service's settings (training deploys a model)
    db: asyncpg.Pool | None = None  # for coordination beyond the job itself (one load per model)
    coordinate_loads: bool = False  # several GPU slots: two jobs could otherwise load one model twice
    default_model: str = "tinyllama"  # for requests that leave the model out: the active model
    settings: Settings | None = None  # for job types that need service configuration (training)
    worker_id: str | None = None  # the processor running it: leases it takes are renewed with its own
    load_seconds: float = 0.0  # a model load it waited for in its own request (coordinated loads)


def describe_validation_error(error: pydantic.ValidationError) -> str:
    """`model: Field required; options.num_ctx: …` — each problem with the field it is about."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'request'}: {item['msg']}" for item in error.errors()
    )


class JobType(abc.ABC, Generic[RequestT]):
    """One kind of job. `run` returns the result (stored as `result_data`), reports progress through
    `ctx.progress`, raises `TransientError`/`PermanentError` to say why it did not succeed, and is
    cancellable: cancelling its task must stop the GPU work (close the Ollama stream)."""

    job_type: ClassVar[str]
    label: ClassVar[str]  # what people call it, e.g. "Text generation"
    operation: ClassVar[str]  # shown to everyone as what the GPU is doing, e.g. "AI Text Generation"
    description: ClassVar[str] = ""
    result_kind: ClassVar[ResultKind] = "json"
    submittable: ClassVar[bool] = True  # offered on the page's submit form (model jobs are admin tools)
    # It runs a model on the GPU (named by its request's `model`, else the default model): placement puts
    # it where that model is loaded. Jobs of other types are placed by fairness and age alone.
    runs_model: ClassVar[bool] = False
    # Its run only asks Ollama for an answer (no lease, no write, nothing else it changes), so it may start
    # the moment the job before it on its slot ends, before FINISH confirms the slot is its: a start that
    # is not confirmed is stopped and leaves no trace (the processor's "reserve ahead").
    starts_early: ClassVar[bool] = False
    default_max_retries: ClassVar[int | None] = None  # None: MAX_JOB_RETRIES
    default_timeout_seconds: ClassVar[float | None] = None  # None: no run-time limit
    request_model: type[RequestT]

    def parse(self, data: dict[str, Any]) -> RequestT:
        """Validate a request body. Submission calls this too, so a bad request never reaches the queue."""
        try:
            return self.request_model.model_validate(data)
        except pydantic.ValidationError as error:
            raise PermanentError(f"Invalid {self.job_type} request: {describe_validation_error(error)}") from error

    async def authorize(self, conn: Executor, user: User, request: RequestT) -> None:
        """At submission: may `user` submit this request? Raise an AppError if not (e.g. it names
        something of another user's). Most job types allow any request that parses."""

    def as_dict(self) -> dict[str, Any]:
        """What clients (the page) learn about this type from `GET /api/ai-agent/job-types`."""
        return {
            "job_type": self.job_type,
            "label": self.label,
            "operation": self.operation,
            "description": self.description,
            "result_kind": self.result_kind,
            "submittable": self.submittable,
            "default_max_retries": self.default_max_retries,
            "default_timeout_seconds": self.default_timeout_seconds,
        }

    @abc.abstractmethod
    async def run(self, ctx: JobContext, request: RequestT) -> dict[str, Any]: ...
