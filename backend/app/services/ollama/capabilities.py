"""Before a drop-in request is queued: does Ollama have the model, and can the model do what is asked?
Ollama answers these at once (404, 400); a queued request would learn them only when its turn came,
and a stream whose headers were already sent could no longer say so with a status. `/api/show` costs
no GPU time, so asking first keeps Ollama's answers — same status, same words — without waiting."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import httpx

from app.errors import AppError

Endpoint = Literal["generate", "chat", "embed"]

# How long Ollama's answer that it has a model is believed without asking again. Asking costs an HTTP
# round trip on every drop-in request (make bench: about a millisecond of the broker's overhead); a model
# removed meanwhile is still refused, by Ollama, when the job runs (the same 404, only later).
SHOWN_SECONDS = 10.0


class OllamaRefuses(AppError):
    """What Ollama itself would answer to this request: its status and its message."""

    code = "ollama_refused"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, {"status": status})
        self.status_code = status


def go_quote(text: str) -> str:
    """Go's %q, which Ollama uses to name a model in its messages (JSON's quoting, for plain names)."""
    return json.dumps(text, ensure_ascii=False)


def not_found(endpoint: str, model: str) -> str:
    if endpoint == "embed":
        return f"model {go_quote(model)} not found, try pulling it first"
    return f"model '{model}' not found"


# Asks /api/show with a body and gives Ollama's reply: one Ollama's, or the fleet's (`Catalogue.show`:
# the first host that has the model). Raises httpx.HTTPError when it cannot be asked.
AskShow = Callable[[dict[str, Any]], Awaitable[httpx.Response]]


def card(reply: httpx.Response) -> dict[str, Any] | None:
    """A model's card from Ollama's /api/show reply; None if Ollama has no such model; OllamaRefuses with
    Ollama's answer to a name it refuses (400 `invalid model name`)."""
    if reply.status_code == 404:
        return None
    if 400 <= reply.status_code < 500:
        raise OllamaRefuses(reply.status_code, _error_of(reply))
    reply.raise_for_status()
    return dict(reply.json())


def _error_of(reply: httpx.Response) -> str:
    try:
        return str(reply.json()["error"])
    except (ValueError, KeyError, TypeError):
        return reply.text


class ShownModels:
    """Ollama's /api/show answers for models it has, kept for SHOWN_SECONDS (a refusal is never kept:
    a model pulled a moment later is found at once). `forget()` after the models change through aijobs."""

    def __init__(self, ask: AskShow, seconds: float = SHOWN_SECONDS) -> None:
        self.ask = ask
        self.seconds = seconds
        self._kept: dict[str, tuple[float, dict[str, Any]]] = {}

    async def show(self, model: str) -> dict[str, Any] | None:
        kept = self._kept.get(model)
        if kept is not None and time.monotonic() < kept[0]:
            return kept[1]
        shown = card(await self.ask({"model": model}))
        if shown is not None:
            self._kept[model] = (time.monotonic() + self.seconds, shown)
        return shown

    def forget(self) -> None:
        self._kept.clear()


async def check(models: ShownModels, endpoint: Endpoint, body: dict[str, Any]) -> None:
    """Raise OllamaRefuses with Ollama's answer if it would refuse `body` at `endpoint` for its model
    or the model's capabilities. If Ollama cannot be asked now, the request is queued as is: the job
    retries until Ollama is back, and then Ollama's answer is the job's."""
    model = str(body.get("model") or "")
    if not model:
        return  # no model: the job runs the active model
    try:
        shown = await models.show(model)
    except httpx.HTTPError:
        return
    if shown is None:
        raise OllamaRefuses(404, not_found(endpoint, model))
    capabilities = set(shown.get("capabilities") or [])
    if endpoint == "embed" or not capabilities:  # an older Ollama lists none: let it decide
        return
    if "completion" not in capabilities:
        raise OllamaRefuses(400, f"{go_quote(model)} does not support {endpoint}")
    if body.get("tools") and "tools" not in capabilities:
        raise OllamaRefuses(400, f"{go_quote(model)} does not support tools")
    if body.get("think") and "thinking" not in capabilities:
        raise OllamaRefuses(400, f"{go_quote(model)} does not support thinking")
