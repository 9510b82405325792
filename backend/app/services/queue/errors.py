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


def _ollama_response_error(error: ollama.ResponseError) -> JobError:
    status = error.status_code
    if status == -1:
        return TransientError(f"Ollama failed mid-answer: {error.error}")
    if status == 404:
        return ModelNotFound(f"Ollama: {error.error} (404). Pull the model first, or pick one from /api/tags.")
    if too_large := TOO_LARGE.search(error.error):
        needed, has = too_large["needed"], too_large["has"]
        return ModelTooLarge(
            f"The model needs {needed} of memory and the Ollama host has only {has} available: it cannot be "
            "loaded there, so it is not retried. Use a smaller model or quantisation (e.g. a q4 tag), or run it "
            f"on a host with more memory. (Ollama: {error.error})"
        )
    if status == 429 or status >= 500:
        return TransientError(f"Ollama answered {status}: {error.error}")
    return PermanentError(f"Ollama rejected the request ({status}): {error.error}")


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
