"""Finding the model a request names, with Ollama's error for each way that fails, and the
replies for injected failures."""

from __future__ import annotations

from starlette.responses import Response

from app.simulator.models import ModelEntry
from app.simulator.names import ModelName, parse_name
from app.simulator.responses import ApiError, DropResponse, error_response
from app.simulator.state import SimState

BUSY = "server busy, please try again.  maximum pending requests exceeded"  # two spaces, as Ollama has it
LOAD_FAILED = "llama-server process has terminated: exit status 2"
MIDSTREAM = "an error was encountered while running the model: unexpected EOF"
BAD_REQUEST = "invalid request: simulated by the Ollama simulator"
_EMBED_ENDPOINTS = ("embed", "embeddings")


def not_found_message(endpoint: str, raw: str) -> str:
    """Embed words it differently from everything else; clients should match on the 404 alone."""
    if endpoint in _EMBED_ENDPOINTS:
        return f'model "{raw}" not found, try pulling it first'
    return f"model '{raw}' not found"


def parse_or_400(raw: str) -> ModelName:
    if not raw:
        raise ApiError(400, "model is required")
    name = parse_name(raw)
    if name is None:
        raise ApiError(400, "invalid model name")
    return name


def resolve(state: SimState, raw: str, endpoint: str) -> ModelEntry:
    """The installed model `raw` names, or the ApiError Ollama would answer with."""
    if not raw and endpoint == "generate":
        raise ApiError(404, "model '' not found")  # generate's long-standing answer to "no model"
    entry = state.catalogue.get(parse_or_400(raw))
    if entry is None:
        raise ApiError(404, not_found_message(endpoint, raw))
    return entry


def require(entry: ModelEntry, capability: str, raw: str, action: str) -> None:
    if not entry.has(capability):
        raise ApiError(400, f'"{raw}" does not support {action}')


def failure_response(kind: str, endpoint: str, raw: str) -> Response:
    """The reply for an injected failure. A `midstream` failure on a reply that is not streamed
    looks like Ollama's: the error it met while collecting the stream, as a 500."""
    if kind == "drop":
        return DropResponse()
    status, message = {
        "busy": (503, BUSY),
        "error500": (500, LOAD_FAILED),
        "midstream": (500, MIDSTREAM),
        "not_found": (404, not_found_message(endpoint, raw)),
        "bad_request": (400, BAD_REQUEST),
    }[kind]
    return error_response(status, message)
