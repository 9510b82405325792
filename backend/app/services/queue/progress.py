"""Progress of a running job: kept in memory as the job type reports it; the processor writes every
changed job's progress to the database in one statement at a bounded rate (`PROGRESS_WRITE_INTERVAL`),
so the GPU work never waits for a progress write."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

Listener = Callable[[dict[str, Any]], None]

# What a job's progress holds that only its owner may read: the text it streams, its reasoning, the
# tool calls it asked for. The lock view is everyone's: it shows how far a job is, never what it says.
PRIVATE_PROGRESS = ("text", "thinking", "tool_calls")


def public_progress(progress: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in progress.items() if key not in PRIVATE_PROGRESS}


class ProgressHub:
    """In-process fan-out of running jobs' progress (each update, with its text delta) to whoever waits
    on them in this process: the drop-in Ollama/OpenAI front streams tokens from here as they arrive.
    Other processes see the job row instead, written at a bounded rate."""

    def __init__(self) -> None:
        self._subscribers: dict[uuid.UUID, set[asyncio.Queue[dict[str, Any]]]] = {}

    def subscribe(self, job_id: uuid.UUID) -> asyncio.Queue[dict[str, Any]]:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers.setdefault(job_id, set()).add(inbox)
        return inbox

    def unsubscribe(self, job_id: uuid.UUID, inbox: asyncio.Queue[dict[str, Any]]) -> None:
        subscribers = self._subscribers.get(job_id)
        if subscribers is not None:
            subscribers.discard(inbox)
            if not subscribers:
                del self._subscribers[job_id]

    def publish(self, job_id: uuid.UUID, event: dict[str, Any]) -> None:
        for inbox in self._subscribers.get(job_id, ()):
            inbox.put_nowait(event)


class ProgressReporter:
    """Job types call `update()` as often as they like (per token); it never waits for the database."""

    def __init__(self, listener: Listener | None = None) -> None:
        self._listener = listener
        self.state: dict[str, Any] = {}
        self.changed = False  # since the processor last wrote it

    def update(self, *, text_delta: str | None = None, thinking_delta: str | None = None, **fields: Any) -> None:
        """Merge `fields` (percent, message, counts) into the state; append streamed text, and streamed
        reasoning (a thinking model's, kept apart from the answer as Ollama keeps it)."""
        self.state.update({key: value for key, value in fields.items() if value is not None})
        if text_delta:
            self.state["text"] = self.state.get("text", "") + text_delta
        if thinking_delta:
            self.state["thinking"] = self.state.get("thinking", "") + thinking_delta
        self.changed = True
        if self._listener is not None:
            event = {**fields, "text_delta": text_delta}
            if thinking_delta:
                event["thinking_delta"] = thinking_delta
            self._listener(event)

    def take(self) -> dict[str, Any] | None:
        """The state to write, if it changed since the last take."""
        if not self.changed:
            return None
        self.changed = False
        return dict(self.state)
