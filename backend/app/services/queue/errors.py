"""How a handler says a job did not succeed, and how Ollama's failures map onto that.

Transient: worth retrying later (Ollama down, busy, timed out, failed mid-stream, 5xx).
Permanent: retrying cannot help (model not found, a model larger than the host's memory, invalid
request, a result that fails validation).
"""

from __future__ import annotations

import re

import httpx
import ollama
import pydantic


class JobError(Exception):
    """A job did not succeed. The message is shown to the user as the job's `error_message`."""

    kind = "permanent"


class TransientError(JobError):
    """Temporary trouble; the job goes back to the queue with backoff until its retries run out."""

    kind = "transient"


class PermanentError(JobError):
    """The job cannot succeed as asked; it fails at once."""

    kind = "permanent"


class ModelNotFound(PermanentError):
    """Ollama does not have the model (its 404)."""

    kind = "not_found"


class ModelTooLarge(PermanentError):
    """The model needs more memory than the Ollama host has: every retry would be refused the same way."""


# Ollama's 500 when a model cannot fit in the host's memory (llm/server.go, sizes in format.HumanBytes2).
TOO_LARGE = re.compile(r"model requires more system memory \((?P<needed>[^)]+)\) than is available \((?P<has>[^)]+)\)")


class RequestRejected(PermanentError):
    """Ollama refused the request as invalid (its 400: a bad field, a model without tools or thinking)."""

    kind = "rejected"


# How a job's error message carries Ollama's own status and words, so the drop-in fronts can answer
# with exactly what Ollama would have said: "Ollama answered <status>: <Ollama's message>[. <advice>]".
UPSTREAM_PREFIX = re.compile(r"^Ollama answered (?P<status>\d{3}): ")
MODEL_NOT_FOUND_ADVICE = " Pull the model first, or pick one from /api/tags."
GAVE_UP = re.compile(r" \(gave up after \d+ retries\)$")  # what the processor adds to a last transient failure


def _upstream(status: int, message: str) -> str:
    return f"Ollama answered {status}: {message}"


def upstream_error(message: str | None) -> tuple[int, str] | None:
    """Ollama's status and message inside a job's error message, if it came from Ollama's answer."""
    found = UPSTREAM_PREFIX.match(message or "")
    if found is None:
        return None
    text = (message or "")[found.end() :].removesuffix(MODEL_NOT_FOUND_ADVICE)
    return int(found["status"]), GAVE_UP.sub("", text)


def _ollama_response_error(error: ollama.ResponseError) -> JobError:
    status = error.status_code
    if status == -1:
        return TransientError(f"Ollama failed mid-answer: {error.error}")
    if status == 404:
        return ModelNotFound(_upstream(404, error.error) + MODEL_NOT_FOUND_ADVICE)
    if too_large := TOO_LARGE.search(error.error):
        needed, has = too_large["needed"], too_large["has"]
        return ModelTooLarge(
            f"{_upstream(status, error.error)}. The model needs {needed} of memory and the Ollama host has only "
            f"{has} available: it cannot be loaded there, so it is not retried. Use a smaller model or "
            "quantisation (e.g. a q4 tag), or run it on a host with more memory."
        )
    if status == 429 or status >= 500:
        return TransientError(_upstream(status, error.error))
    return RequestRejected(_upstream(status, error.error))


def classify(error: BaseException) -> JobError | None:
    """The JobError an exception from a handler stands for, or None for a bug (which fails the job)."""
    if isinstance(error, JobError):
        return error
    if isinstance(error, ollama.ResponseError):
        return _ollama_response_error(error)
    if isinstance(error, httpx.TimeoutException):
        return TransientError(f"Ollama did not answer in time ({type(error).__name__}).")
    if isinstance(error, httpx.TransportError | ConnectionError):
        return TransientError(f"Could not talk to Ollama: {error or type(error).__name__}")
    if isinstance(error, pydantic.ValidationError):
        return PermanentError(f"Invalid job request: {error}")
    return None
