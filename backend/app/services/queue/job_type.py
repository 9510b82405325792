"""The interface every job type implements, and what a handler gets to work with."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import ollama
import pydantic
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
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
    engine: AsyncEngine | None = None  # for coordination beyond the job itself (one load per model)
    coordinate_loads: bool = False  # several GPU slots: two jobs could otherwise load one model twice
    default_model: str = "tinyllama"  # for requests that leave the model out: the active model
    settings: Settings | None = None  # for handlers that need service configuration (training)


def describe_validation_error(error: pydantic.ValidationError) -> str:
    """`model: Field required; options.num_ctx: …` — each problem with the field it is about."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'request'}: {item['msg']}" for item in error.errors()
    )


class JobHandler(abc.ABC, Generic[RequestT]):
    """One job type. `run` returns the result (stored as `result_data`), reports progress through
    `ctx.progress`, raises `TransientError`/`PermanentError` to say why it did not succeed, and is
    cancellable: cancelling its task must stop the GPU work (close the Ollama stream)."""

    job_type: ClassVar[str]
    operation: ClassVar[str]  # shown to everyone as what the GPU is doing, e.g. "AI Text Generation"
    request_model: type[RequestT]

    def parse(self, data: dict[str, Any]) -> RequestT:
        """Validate a request body. Submission calls this too, so a bad request never reaches the queue."""
        try:
            return self.request_model.model_validate(data)
        except pydantic.ValidationError as error:
            raise PermanentError(f"Invalid {self.job_type} request: {describe_validation_error(error)}") from error

    async def authorize(self, conn: AsyncConnection, user: User, request: RequestT) -> None:
        """At submission: may `user` submit this request? Raise an AppError if not (e.g. it names
        something of another user's). Most job types allow any request that parses."""

    @abc.abstractmethod
    async def run(self, ctx: JobContext, request: RequestT) -> dict[str, Any]: ...
