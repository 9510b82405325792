"""One request's use of the (pretend) GPU: holding its model, loading it first if need be, and
counting the time it spends generating."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from app.simulator.models import ModelEntry
from app.simulator.residency import LoadRefused, Resident
from app.simulator.responses import Event, Whole
from app.simulator.state import SimState
from app.simulator.stats import RequestRecord


def timings(**values: int) -> dict[str, int]:
    """Ollama leaves zero timings and counts out."""
    return {key: value for key, value in values.items() if value}


@dataclass
class Job:
    """One accepted GPU request."""

    state: SimState
    record: RequestRecord
    entry: ModelEntry
    raw_model: str
    keep_alive: float | None
    num_ctx: int | None
    stream: bool = False
    resident: Resident | None = None
    working_since: float = 0.0

    async def acquire(self) -> int:
        """Load (if cold) and hold the model; the nanoseconds that took. Raises LoadRefused."""
        host = self.state.config.footprint()
        self.resident, load_ns = await self.state.residency.acquire(self.entry, self.keep_alive, self.num_ctx, host)
        self.record.load_seconds = load_ns / 1e9
        self.state.stats.busy.start()  # before the generation's own clock and stopped after it
        self.working_since = time.monotonic()
        return load_ns

    def release(self) -> None:
        """Let go of the model (idempotent). Done before the last reply bytes, so a client that has
        the reply already sees the model idle (and, with keep_alive 0, unloaded) in /api/ps."""
        if self.resident is not None:
            self.state.residency.release(self.resident)
            self.resident = None
            self.state.stats.spent_generating(self.record, time.monotonic() - self.working_since)
            self.state.stats.busy.stop()

    async def checkpoint(self, tokens: int) -> None:
        """Wait here if a /_sim/hold catches this request after `tokens` tokens."""
        await self.state.holds.checkpoint(self.record, tokens)


def refused(error: LoadRefused) -> Whole:
    """The model can never fit on this host: Ollama's scheduler answers 500 before any byte."""
    return Whole({"error": error.message}, 500)


async def load_events(job: Job, reply: dict[str, Any]) -> AsyncIterator[Event]:
    """Load the model (an empty prompt, `messages: []` or `input: []`) and answer `reply`."""
    try:
        await job.acquire()
    except LoadRefused as error:
        yield refused(error)
        return
    job.release()
    yield Whole(reply)
