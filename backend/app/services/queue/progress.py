"""Progress of a running job: kept in memory, written to the job row at a bounded rate."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

Writer = Callable[[dict[str, Any]], Awaitable[Any]]
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
    """Handlers call `update()` as often as they like; it never waits for the database.

    `run()` (a task the processor starts beside the job) writes the state an `interval` after it
    changed, so at most once per `interval`, so the GPU work is never held up by a progress write. The heartbeat
    calls `flush()` too, as a safety net.
    """

    def __init__(self, write: Writer, interval: float, listener: Listener | None = None) -> None:
        self._write = write
        self._interval = interval
        self._listener = listener
        self._changed = asyncio.Event()
        self.state: dict[str, Any] = {}

    def update(self, *, text_delta: str | None = None, thinking_delta: str | None = None, **fields: Any) -> None:
        """Merge `fields` (percent, message, counts) into the state; append streamed text, and streamed
        reasoning (a thinking model's, kept apart from the answer as Ollama keeps it)."""
        self.state.update({key: value for key, value in fields.items() if value is not None})
        if text_delta:
            self.state["text"] = self.state.get("text", "") + text_delta
        if thinking_delta:
            self.state["thinking"] = self.state.get("thinking", "") + thinking_delta
        self._changed.set()
        if self._listener is not None:
            event = {**fields, "text_delta": text_delta}
            if thinking_delta:
                event["thinking_delta"] = thinking_delta
            self._listener(event)

    async def run(self) -> None:
        while True:
            await self._changed.wait()
            # Gather changes for one interval before writing: a burst of tokens is one write, and a
            # job shorter than the interval writes its progress only once, with its outcome.
            await asyncio.sleep(self._interval)
            await self.flush()

    async def flush(self) -> None:
        if not self._changed.is_set():
            return
        self._changed.clear()
        await self._write(dict(self.state))
