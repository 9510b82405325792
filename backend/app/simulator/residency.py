"""Which models are loaded on this (pretend) GPU host, with Ollama's keep_alive rules and, when the
host has a memory limit (`--vram`), its scheduler's: a model loads on first use, idle models are
evicted to make room for a new one, and a request waits while the models in the way are in use.

Everything runs on one asyncio loop, so state changes need no locks; waiters sleep on an event
that is replaced (and set) whenever something they might be waiting for changes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from app.simulator.durations import DEFAULT_KEEP_ALIVE
from app.simulator.models import ModelEntry
from app.simulator.sizes import human_bytes2
from app.simulator.stats import Stats

DEFAULT_NUM_CTX = 4096


class LoadRefused(Exception):
    """A model that can never fit: Ollama answers 500 with this text (llm/server.go, before its
    llama-server rewrite: "model requires more system memory (%s) than is available (%s)",
    both sizes in format.HumanBytes2)."""

    def __init__(self, needed: int, available: int) -> None:
        needed_text, available_text = human_bytes2(needed), human_bytes2(available)
        message = f"model requires more system memory ({needed_text}) than is available ({available_text})"
        super().__init__(message)
        self.message = message


def natural_size(entry: ModelEntry, num_ctx: int) -> int:
    """Weights plus a KV cache that grows with the context, all of it on the GPU."""
    return entry.spec.size + num_ctx * entry.spec.embedding_length * 4


@dataclass(frozen=True)
class Footprint:
    """This host's memory and how big and slow to load each model is on it."""

    vram: int | None = None  # bytes; None: unlimited
    load_delay: float = 0.0  # seconds a load takes unless the model has its own time
    sizes: dict[str, int] = field(default_factory=dict)  # model key -> bytes, replacing natural_size
    load_seconds: dict[str, float] = field(default_factory=dict)  # model key -> seconds

    def size(self, entry: ModelEntry, num_ctx: int) -> int:
        return self.sizes.get(entry.key) or natural_size(entry, num_ctx)

    def load_time(self, entry: ModelEntry) -> float:
        return self.load_seconds.get(entry.key, self.load_delay)


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
    """A loaded (or loading) model. It cannot expire or be evicted while a request uses it; its
    keep_alive clock starts when the last request ends."""

    entry: ModelEntry
    num_ctx: int
    size: int
    keep_alive: float = DEFAULT_KEEP_ALIVE  # seconds; math.inf = forever; 0 = unload when idle
    expires_at: float = 0.0
    active: int = 0
    last_used: float = field(default_factory=time.monotonic)
    loading: bool = True

    def expiry(self, now: float) -> float:
        return now + self.keep_alive if self.active else self.expires_at

    @property
    def idle(self) -> bool:
        return not self.active and not self.loading


class Residency:
    """The loaded models and the memory they take."""

    def __init__(self, stats: Stats) -> None:
        self._stats = stats
        self._loaded: dict[str, Resident] = {}
        # Replaced by a reload with another context size while still in use: their memory is
        # taken until their last request ends.
        self._retiring: set[Resident] = set()
        self._changed = asyncio.Event()
        self.waiting_for_memory = 0  # requests waiting for busy models to free memory

    def loaded(self, now: float) -> list[tuple[Resident, float]]:
        """(model, expiry) for every loaded, unexpired model, newest expiry first. A model still
        loading is not listed, as in Ollama's /api/ps."""
        self._purge(now)
        pairs = [(resident, resident.expiry(now)) for resident in self._loaded.values() if not resident.loading]
        return sorted(pairs, key=lambda pair: pair[1], reverse=True)

    def used(self) -> int:
        """Bytes taken by loaded, loading and retiring models."""
        self._purge(time.time())
        return sum(resident.size for resident in [*self._loaded.values(), *self._retiring])

    async def acquire(
        self, entry: ModelEntry, keep_alive: float | None, num_ctx: int | None, host: Footprint
    ) -> tuple[Resident, int]:
        """Hold the model, loading it first if it is cold (or its context size changed); also the
        nanoseconds that took, waiting included (Ollama's load_duration counts the wait too).

        Raises LoadRefused if the model is larger than the whole GPU. If the client leaves during
        the load, the sleep is cancelled and the model stays unloaded.
        """
        started = time.perf_counter_ns()
        resident = await self._resident(entry, num_ctx, host)
        if keep_alive is not None:  # omitted: the value set earlier stays
            resident.keep_alive = keep_alive
        resident.active += 1
        resident.last_used = time.monotonic()
        return resident, max(time.perf_counter_ns() - started, 1)

    async def _resident(self, entry: ModelEntry, num_ctx: int | None, host: Footprint) -> Resident:
        while True:
            self._purge(time.time())
            resident = self._loaded.get(entry.key)
            if resident is not None and resident.loading:  # another request is loading it: share that load
                await self._wait()
                continue
            wanted_ctx = num_ctx or (resident.num_ctx if resident else DEFAULT_NUM_CTX)
            if resident is not None and resident.num_ctx == wanted_ctx:
                return resident
            size = host.size(entry, wanted_ctx)
            if host.vram is not None and size > host.vram:
                raise LoadRefused(size, host.vram)
            if resident is not None:
                self._retire(resident)
            if not self._make_room(size, host.vram):
                await self._wait_for_memory()  # the models in the way are in use: wait until one is idle
                continue
            return await self._load(entry, wanted_ctx, size, host.load_time(entry))

    async def _load(self, entry: ModelEntry, num_ctx: int, size: int, seconds: float) -> Resident:
        """Reserve the memory at once (so concurrent loads see it taken), then take the load time."""
        resident = Resident(entry, num_ctx, size)
        self._loaded[entry.key] = resident
        self._stats.busy.start()  # before the load's own clock and stopped after it: busy time covers it
        epoch, started = self._stats.epoch, time.monotonic()
        try:
            await sleep_at_least(seconds)
        except BaseException:
            if self._loaded.get(entry.key) is resident:
                del self._loaded[entry.key]
            self._notify()
            raise
        finally:
            self._stats.spent_loading(time.monotonic() - started, epoch)
            self._stats.busy.stop()
        resident.loading = False
        if self._loaded.get(entry.key) is resident:
            self._stats.loaded(entry.name.display, epoch)
        self._notify()
        return resident

    def _make_room(self, size: int, vram: int | None) -> bool:
        """Evict idle models until `size` fits; False if it still does not (the rest are busy).

        Like Ollama's findRunnerToUnload: idle models only, the shortest keep_alive first; among
        equal keep_alives the least recently used (Ollama breaks that tie by name).
        """
        if vram is None:
            return True
        while self.used() + size > vram:
            idle = [resident for resident in self._loaded.values() if resident.idle]
            if not idle:
                return False
            victim = min(idle, key=lambda resident: (resident.keep_alive, resident.last_used))
            del self._loaded[victim.entry.key]
            self._stats.evictions += 1
        return True

    def _retire(self, resident: Resident) -> None:
        del self._loaded[resident.entry.key]
        if resident.active:
            self._retiring.add(resident)

    def release(self, resident: Resident) -> None:
        resident.active -= 1
        resident.last_used = time.monotonic()
        if resident.active:
            return
        resident.expires_at = time.time() + resident.keep_alive
        if self._loaded.get(resident.entry.key) is not resident:
            self._retiring.discard(resident)
        elif resident.keep_alive <= 0:
            del self._loaded[resident.entry.key]
        self._notify()  # an idle model can now be evicted for a waiting request

    def unload(self, entry: ModelEntry) -> None:
        """keep_alive 0 with nothing to generate: gone now, or as soon as running requests end."""
        resident = self._loaded.get(entry.key)
        if resident is None or resident.loading:
            return
        resident.keep_alive = 0
        if not resident.active:
            del self._loaded[entry.key]
            self._notify()

    def clear(self) -> None:
        self._loaded.clear()
        self._retiring.clear()
        self._notify()

    async def _wait(self) -> None:
        await self._changed.wait()

    async def _wait_for_memory(self) -> None:
        self.waiting_for_memory += 1
        try:
            await self._wait()
        finally:
            self.waiting_for_memory -= 1

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _purge(self, now: float) -> None:
        expired = [key for key, res in self._loaded.items() if res.idle and res.expires_at <= now]
        for key in expired:
            del self._loaded[key]
