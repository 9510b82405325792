"""How Ollama's failures are classed: retried (transient) or failed at once (permanent), with a message
that says what to do."""

from __future__ import annotations

import asyncpg
import ollama
import pytest

from app.services.queue.errors import PermanentError, TransientError, classify
from app.services.queue.processor import Processor
from tests.support.jobs import TERMINAL, submit
from tests.support.simulator import Simulator
from tests.support.waiting import job_reaches

TOO_BIG = "model requires more system memory (40.0 GiB) than is available (12.0 GiB)"


def test_a_model_larger_than_the_hosts_memory_is_permanent_and_says_what_to_do() -> None:
    error = classify(ollama.ResponseError(TOO_BIG, 500))
    assert isinstance(error, PermanentError)
    message = str(error)
    assert "40.0 GiB" in message and "12.0 GiB" in message
    assert "smaller model" in message and "more memory" in message


@pytest.mark.parametrize(
    "message",
    [
        "llama-server process has terminated: exit status 2",
        "timed out waiting for llama-server to start",
        "server busy, please try again.  maximum pending requests exceeded",
    ],
)
def test_other_load_failures_are_still_retried(message: str) -> None:
    assert isinstance(classify(ollama.ResponseError(message, 500)), TransientError)


async def test_a_model_that_can_never_fit_fails_once_without_retrying(
    db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    """The simulator as a GPU host with 2 GiB on which tinyllama takes 3 GiB: Ollama's 500."""
    sim.configure(vram="2GiB", model_sizes={"tinyllama": "3GiB"})
    job = await submit(db, max_retries=3)
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "failed" and done.error_kind == "permanent" and done.retry_count == 0
    assert "3.0 GiB" in (done.error_message or "") and "2.0 GiB" in (done.error_message or "")
    assert "smaller model" in (done.error_message or "")
    stats = sim.stats()
    assert sum(stats["requests"].get(endpoint, 0) for endpoint in ("generate", "chat")) == 1, stats["requests"]
