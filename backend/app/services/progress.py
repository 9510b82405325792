"""Progress of a running job: kept in memory, written to the job row at a bounded rate."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Writer = Callable[[dict[str, Any]], Awaitable[Any]]


class ProgressReporter:
    """Handlers call `update()` as often as they like; it never waits for the database.

    `run()` (a task the processor starts beside the job) writes the state an `interval` after it
    changed, so at most once per `interval`, so the GPU work is never held up by a progress write. The heartbeat
    calls `flush()` too, as a safety net.
    """

    def __init__(self, write: Writer, interval: float) -> None:
        self._write = write
        self._interval = interval
        self._changed = asyncio.Event()
        self.state: dict[str, Any] = {}

    def update(self, *, text_delta: str | None = None, **fields: Any) -> None:
        """Merge `fields` (percent, message, counts) into the state; append streamed text."""
        self.state.update({key: value for key, value in fields.items() if value is not None})
        if text_delta:
            self.state["text"] = self.state.get("text", "") + text_delta
        self._changed.set()

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
