"""What the simulator counts for GET /_sim/stats: requests by endpoint, outcomes, concurrency, model
loads and evictions, time spent loading and generating, and the bounded request log."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Requests that occupy the GPU (loads and unloads go through generate/chat/embed too).
GPU_ENDPOINTS = ("generate", "chat", "embed", "embeddings")
ENDPOINTS = (
    *GPU_ENDPOINTS,
    "show",
    "tags",
    "ps",
    "pull",
    "push",
    "create",
    "copy",
    "delete",
    "version",
    "blobs",
)
LOG_LIMIT = 10_000


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
    load_seconds: float = 0.0  # time spent getting its model: loading it, or waiting for memory (tiny when warm)
    held: bool = False  # paused by POST /_sim/hold right now
    client_gone: Callable[[], bool] | None = field(default=None, repr=False)  # see client_gone() below

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
            "load_seconds": self.load_seconds,
            "held": self.held,
        }


class BusyClock:
    """Wall-clock time during which at least one piece of GPU work (a load or a generation) runs.

    The count of running work survives a reset (that work is still running); only the total restarts.
    """

    def __init__(self) -> None:
        self.running = 0
        self.total = 0.0
        self.since = 0.0

    def start(self) -> None:
        if self.running == 0:
            self.since = time.monotonic()
        self.running += 1

    def stop(self) -> None:
        self.running -= 1
        if self.running == 0:
            self.total += time.monotonic() - self.since

    def seconds(self) -> float:
        return self.total + (time.monotonic() - self.since if self.running else 0.0)

    def restart(self) -> None:
        self.total = 0.0
        self.since = time.monotonic()


class Stats:
    """Counters and the bounded log. `reset()` starts a new epoch so requests still running from
    before a reset cannot touch the new counters when they end."""

    def __init__(self) -> None:
        self.epoch = 0
        self.busy = BusyClock()
        self.reset()

    def reset(self) -> None:
        self.epoch += 1
        self.requests = dict.fromkeys(ENDPOINTS, 0)
        self.disconnects = 0
        self.completed = 0
        self.errors = 0
        self.loads = 0
        self.model_loads: Counter[str] = Counter()
        self.evictions = 0
        self.load_seconds = 0.0
        self.generate_seconds = 0.0
        self.max_in_flight = 0
        self.active: set[RequestRecord] = set()
        self.log: deque[RequestRecord] = deque(maxlen=LOG_LIMIT)
        self.busy.restart()

    def begin(self, endpoint: str, client_gone: Callable[[], bool] | None = None) -> RequestRecord:
        record = RequestRecord(endpoint=endpoint, epoch=self.epoch, client_gone=client_gone)
        self.requests[endpoint] += 1
        self.log.append(record)
        if record.gpu:
            self._drop_left()
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

    def _drop_left(self) -> None:
        """End, as disconnects, the requests whose client has already closed its connection. The event
        loop learns of a closed connection a few turns after the kernel does, so without this a client
        that stops one generation and at once sends the next could be seen with both in flight, though
        it never had two open (their work stops the moment the loop notices, as it would anyway)."""
        for record in list(self.active):
            if record.client_gone is not None and record.client_gone():
                self.finish(record, "disconnect", None)

    def loaded(self, model: str, epoch: int) -> None:
        """A load finished (it counts only in the epoch it started in)."""
        if epoch == self.epoch:
            self.loads += 1
            self.model_loads[model] += 1

    def spent_loading(self, seconds: float, epoch: int) -> None:
        """Time a load took, finished or cut short by a client that left."""
        if epoch == self.epoch:
            self.load_seconds += seconds

    def spent_generating(self, record: RequestRecord, seconds: float) -> None:
        if record.epoch == self.epoch:
            self.generate_seconds += seconds

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
            "model_loads": dict(self.model_loads),
            "evictions": self.evictions,
            "load_seconds": self.load_seconds,
            "generate_seconds": self.generate_seconds,
            "busy_seconds": self.busy.seconds(),
            "log": [record.as_dict() for record in self.log],
        }


def client_gone(transport: asyncio.Transport) -> Callable[[], bool]:
    """Whether the client at the other end of a server transport has closed it: the transport is
    closing, or its socket reads as at end of file (peeked, so nothing is consumed)."""

    def gone() -> bool:
        if transport.is_closing():
            return True
        try:
            with transport.get_extra_info("socket").dup() as peer:
                return peer.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False  # open, nothing to read
        except OSError:
            return True

    return gone
