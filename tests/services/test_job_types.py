"""A job type is one module plus one line in the registry: proven with a type that exists only in this
test. Registered, it is listed by the API, its request is documented in the OpenAPI schema, its
defaults apply, the lock names its operation, and a processor runs it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import BaseModel, ConfigDict, Field

from app.config import Settings
from app.main import create_app
from app.routes.deps import current_user
from app.schemas.jobs import SubmitJob
from app.services import job_types
from app.services.accounts.users import User
from app.services.queue import submissions
from app.services.queue.job_type import JobContext, JobType
from app.services.queue.processor import Processor
from tests.support.jobs import TERMINAL
from tests.support.waiting import job_reaches

ALICE = User(id="alice", username="alice")


class EchoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="What to say back.")


class EchoJob(JobType[EchoRequest]):
    job_type = "test.echo"
    label = "Echo"
    operation = "Echoing"
    description = "Says back what it is given."
    result_kind = "text"
    default_max_retries = 1
    default_timeout_seconds = 5.0
    request_model = EchoRequest

    async def run(self, ctx: JobContext, request: EchoRequest) -> dict[str, Any]:
        ctx.progress.update(text_delta=request.text)
        return {"echo": request.text}


@pytest.fixture
def echo_registered() -> Iterator[None]:
    job_types.register(EchoJob())
    yield
    job_types.unregister("test.echo")


async def test_a_registered_job_type_is_listed_documented_and_run(
    echo_registered: None,
    db: asyncpg.Pool,
    make_settings: Callable[..., Settings],
    start_processor: Callable[..., Awaitable[Processor]],
) -> None:
    app = create_app(make_settings())
    app.dependency_overrides[current_user] = lambda: ALICE
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://aijobs") as client:
        listed = (await client.get("/api/ai-agent/job-types")).json()["job_types"]
    echo = next(entry for entry in listed if entry["job_type"] == "test.echo")
    assert (echo["label"], echo["operation"], echo["default_max_retries"]) == ("Echo", "Echoing", 1)
    schema = app.openapi()
    body = schema["paths"]["/api/ai-agent/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["discriminator"]["mapping"]["test.echo"] == "#/components/schemas/SubmitTestEcho"
    assert schema["components"]["schemas"]["EchoRequest"]["required"] == ["text"]

    await start_processor()
    settings = make_settings()
    submitted = await submissions.submit(db, ALICE, SubmitJob(job_type="test.echo", request={"text": "hi"}), settings)
    assert (submitted.job.max_retries, submitted.job.timeout_seconds) == (1, 5.0), "the type's defaults"
    done = await job_reaches(db, submitted.job.id, TERMINAL)
    assert done.status == "completed" and done.result_data == {"echo": "hi"} and done.progress["text"] == "hi"
    operation = await db.fetchval("SELECT operation FROM lease_history WHERE holder = $1", str(done.id))
    assert operation == "Echoing", "the lock shows the type's operation"
