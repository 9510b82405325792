"""Progress of a running job: kept in memory, written to the job row at a bounded rate."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

Writer = Callable[[dict[str, Any]], Awaitable[None]]


class ProgressReporter:
    """Handlers call `update()` as often as they like; the row is written at most every `interval`.

    The processor's heartbeat calls `flush()` too, so a quiet spell after a burst is still written.
    """

    def __init__(self, write: Writer, interval: float) -> None:
        self._write = write
        self._interval = interval
        self._last_write = 0.0
        self._dirty = False
        self.state: dict[str, Any] = {}

    async def update(self, *, text_delta: str | None = None, **fields: Any) -> None:
        """Merge `fields` (percent, message, counts) into the state; append streamed text."""
        self.state.update({key: value for key, value in fields.items() if value is not None})
        if text_delta:
            self.state["text"] = self.state.get("text", "") + text_delta
        self._dirty = True
        if time.monotonic() - self._last_write >= self._interval:
            await self.flush()

    async def flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self._last_write = time.monotonic()
        await self._write(dict(self.state))
