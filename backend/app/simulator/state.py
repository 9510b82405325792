"""The simulator's memory: settings, pending injected failures, counters and the request log, and
which models are loaded. One asyncio loop owns it all, so plain attributes are safe."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from app.simulator.durations import DEFAULT_KEEP_ALIVE
from app.simulator.models import Catalogue, ModelEntry

# Requests that occupy the GPU (loads and unloads go through generate/chat/embed too).
GPU_ENDPOINTS = ("generate", "chat", "embed", "embeddings")
ENDPOINTS = (*GPU_ENDPOINTS, "show", "tags", "ps", "pull", "create", "delete", "version", "blobs")
FAIL_KINDS = ("busy", "error500", "drop", "midstream", "not_found", "bad_request", "invalid_json")
LOG_LIMIT = 10_000
DEFAULT_NUM_CTX = 4096


@dataclass
class SimConfig:
    """What can be changed at start (command line) and at run time (POST /_sim/config)."""

    token_delay: float = 0.02  # seconds between streamed tokens
    tokens: int = 20  # tokens in a reply unless num_predict or a stop sequence cuts it
    load_delay: float = 0.0  # seconds a cold load takes
    pull_chunk_delay: float = 0.06  # seconds between pull/create progress lines

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; raises ValueError (and changes nothing) if any value is wrong."""
        known = {item.name for item in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
        checked = {name: _checked_setting(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _checked_setting(name: str, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if name == "tokens":
        if int(value) != value:
            raise ValueError(f"tokens must be a whole number, got {value!r}")
        return int(value)
    return float(value)


@dataclass
class Failure:
    kind: str
    remaining: int
    endpoints: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "remaining": self.remaining, "endpoints": list(self.endpoints)}


@dataclass(eq=False)
class RequestRecord:
    """One API request, from arrival to the end of its response; also its log entry."""

    endpoint: str
    epoch: int
    start: float = field(default_factory=time.time)  # wall clock, comparable across processes
    start_ns: int = field(default_factory=time.perf_counter_ns)  # for the reply's durations
    model: str | None = None
    prompt: str | None = None
    end: float | None = None
    outcome: str | None = None  # done | disconnect | error; None while running
    status: int | None = None
    tokens: int = 0  # tokens actually produced (stops growing the moment a client leaves)

    @property
    def gpu(self) -> bool:
        return self.endpoint in GPU_ENDPOINTS

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "model": self.model,
            "start": self.start,
            "end": self.end,
            "outcome": self.outcome,
            "prompt": self.prompt,
            "status": self.status,
            "tokens": self.tokens,
        }


class Stats:
    """Counters and the bounded log. `reset()` starts a new epoch so requests still running from
    before a reset cannot touch the new counters when they end."""

    def __init__(self) -> None:
        self.epoch = 0
        self.reset()

    def reset(self) -> None:
        self.epoch += 1
        self.requests = dict.fromkeys(ENDPOINTS, 0)
        self.disconnects = 0
        self.completed = 0
        self.errors = 0
        self.loads = 0
        self.max_in_flight = 0
        self.active: set[RequestRecord] = set()
        self.log: deque[RequestRecord] = deque(maxlen=LOG_LIMIT)

    def begin(self, endpoint: str) -> RequestRecord:
        record = RequestRecord(endpoint=endpoint, epoch=self.epoch)
        self.requests[endpoint] += 1
        self.log.append(record)
        if record.gpu:
            self.active.add(record)
            self.max_in_flight = max(self.max_in_flight, len(self.active))
        return record

    def finish(self, record: RequestRecord, outcome: str, status: int | None) -> None:
        if record.outcome is not None:
            return  # already finished
        record.end, record.outcome, record.status = time.time(), outcome, status
        if record.epoch != self.epoch:
            return
        self.active.discard(record)
        if outcome == "disconnect":
            self.disconnects += 1
        elif outcome == "done":
            self.completed += 1
        else:
            self.errors += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "total_requests": sum(self.requests.values()),
            "in_flight": len(self.active),
            "max_in_flight": self.max_in_flight,
            "disconnects": self.disconnects,
            "completed": self.completed,
            "errors": self.errors,
            "loads": self.loads,
            "log": [record.as_dict() for record in self.log],
        }


async def sleep_at_least(seconds: float) -> None:
    """asyncio.sleep, but never short: uvloop's millisecond timers can wake a little early, and a
    load that should take 50 ms must report a load_duration of at least 50 ms."""
    deadline = time.perf_counter() + seconds
    await asyncio.sleep(seconds)
    short = deadline - time.perf_counter()
    if short > 0:  # woken early by at most a timer tick: top up past the deadline once
        await asyncio.sleep(short + 0.001)


@dataclass(eq=False)
class Resident:
    """A loaded model. It cannot expire while a request uses it; its clock starts when the last ends."""

    entry: ModelEntry
    num_ctx: int
    keep_alive: float  # seconds; math.inf = forever; 0 = unload when idle
    expires_at: float
    active: int = 0

    def expiry(self, now: float) -> float:
        return now + self.keep_alive if self.active else self.expires_at


class Residency:
    """Which models are loaded, with Ollama's keep_alive rules."""

    def __init__(self, stats: Stats) -> None:
        self._stats = stats
        self._loaded: dict[str, Resident] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def loaded(self, now: float) -> list[tuple[Resident, float]]:
        """(model, expiry) for every loaded, unexpired model, newest expiry first."""
        self._purge(now)
        pairs = [(resident, resident.expiry(now)) for resident in self._loaded.values()]
        return sorted(pairs, key=lambda pair: pair[1], reverse=True)

    async def acquire(
        self, entry: ModelEntry, keep_alive: float | None, num_ctx: int | None, load_delay: float
    ) -> tuple[Resident, int]:
        """Load the model if it is cold (or its context size changed) and hold it; also the time taken.

        A per-model lock makes a second request for a model that is loading wait for that load.
        The sleep is cancelled if the client leaves, and then the model stays unloaded.
        """
        started = time.perf_counter_ns()
        async with self._locks.setdefault(entry.key, asyncio.Lock()):
            self._purge(time.time())
            resident = self._loaded.get(entry.key)
            wanted_ctx = num_ctx or (resident.num_ctx if resident else DEFAULT_NUM_CTX)
            if resident is None or resident.num_ctx != wanted_ctx:
                await sleep_at_least(load_delay)
                resident = Resident(entry, wanted_ctx, DEFAULT_KEEP_ALIVE, expires_at=0.0)
                self._loaded[entry.key] = resident
                self._stats.loads += 1
            if keep_alive is not None:  # omitted: the value set earlier stays
                resident.keep_alive = keep_alive
            resident.active += 1
        return resident, max(time.perf_counter_ns() - started, 1)

    def release(self, resident: Resident) -> None:
        resident.active -= 1
        if resident.active:
            return
        resident.expires_at = time.time() + resident.keep_alive
        if resident.keep_alive <= 0 and self._loaded.get(resident.entry.key) is resident:
            del self._loaded[resident.entry.key]

    def unload(self, entry: ModelEntry) -> None:
        """keep_alive 0 with nothing to generate: gone now, or as soon as running requests end."""
        resident = self._loaded.get(entry.key)
        if resident is None:
            return
        resident.keep_alive = 0
        if not resident.active:
            del self._loaded[entry.key]

    def clear(self) -> None:
        self._loaded.clear()

    def _purge(self, now: float) -> None:
        expired = [key for key, res in self._loaded.items() if not res.active and res.expires_at <= now]
        for key in expired:
            del self._loaded[key]


class SimState:
    """Everything one simulator process remembers."""

    def __init__(self, config: SimConfig) -> None:
        self.initial_config = dataclasses.replace(config)
        self.config = dataclasses.replace(config)
        self.catalogue = Catalogue()
        self.stats = Stats()
        self.residency = Residency(self.stats)
        self.failures: list[Failure] = []
        self.blobs: dict[str, int] = {}  # digest -> size of blobs uploaded for /api/create

    def add_failure(self, kind: str, count: int, endpoints: tuple[str, ...]) -> None:
        self.failures.append(Failure(kind, count, endpoints))

    def take_failure(self, endpoint: str) -> str | None:
        """The kind of the first pending failure that applies to `endpoint`, used up by one."""
        for failure in self.failures:
            if endpoint in failure.endpoints:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self.failures.remove(failure)
                return failure.kind
        return None

    def reset(self) -> None:
        """Counters, log, failures, settings and loaded models back to the start; models stay installed."""
        self.stats.reset()
        self.failures.clear()
        self.config = dataclasses.replace(self.initial_config)
        self.residency.clear()
