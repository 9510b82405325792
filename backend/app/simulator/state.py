"""The simulator's memory: settings, pending injected failures, holds, counters and the request log,
and which models are loaded. One asyncio loop owns it all, so plain attributes are safe."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.simulator.holds import Holds
from app.simulator.models import Catalogue
from app.simulator.names import parse_name
from app.simulator.residency import Footprint, Residency
from app.simulator.sizes import parse_bytes
from app.simulator.stats import ENDPOINTS, GPU_ENDPOINTS, Stats

__all__ = ["ENDPOINTS", "FAIL_KINDS", "GPU_ENDPOINTS", "Failure", "SimConfig", "SimState"]

FAIL_KINDS = ("busy", "error500", "drop", "midstream", "not_found", "bad_request", "invalid_json")


@dataclass
class SimConfig:
    """What can be changed at start (command line) and at run time (POST /_sim/config).

    `load_ms` is not a setting of its own: it reads and writes `load_delay` in milliseconds.
    """

    token_delay: float = 0.02  # seconds between streamed tokens
    tokens: int = 20  # tokens in a reply unless num_predict or a stop sequence cuts it
    load_delay: float = 0.0  # seconds a cold load takes (unless model_load_ms names the model)
    pull_chunk_delay: float = 0.06  # seconds between pull/create/push progress lines
    vram: int | None = None  # GPU memory in bytes; None: unlimited
    model_sizes: dict[str, int] = field(default_factory=dict)  # model name -> bytes it takes when loaded
    model_load_ms: dict[str, float] = field(default_factory=dict)  # model name -> milliseconds a load takes

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; raises ValueError (and changes nothing) if any value is wrong.
        A map (model_sizes, model_load_ms) is replaced whole."""
        known = {item.name for item in dataclasses.fields(self)} | {"load_ms"}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
        if "load_ms" in changes and "load_delay" in changes:
            raise ValueError("load_ms and load_delay are the same setting (milliseconds, seconds): give one")
        checked = {name: _checked_setting(name, value) for name, value in changes.items()}
        if "load_ms" in checked:
            checked["load_delay"] = checked.pop("load_ms") / 1000
        for name, value in checked.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "load_ms": self.load_delay * 1000}

    def footprint(self) -> Footprint:
        """The host's memory and per-model sizes and load times, keyed the way models are looked up."""
        return Footprint(
            vram=self.vram,
            load_delay=self.load_delay,
            sizes={_model_key(name): size for name, size in self.model_sizes.items()},
            load_seconds={_model_key(name): ms / 1000 for name, ms in self.model_load_ms.items()},
        )


def _model_key(raw: str) -> str:
    name = parse_name(raw)
    if name is None:
        raise ValueError(f"invalid model name {raw!r}")
    return name.key


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def _model_map(name: str, value: Any, parse: Callable[[str, Any], Any]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object of model name to value, got {value!r}")
    result = {}
    for model, item in value.items():
        _model_key(model)
        result[model] = parse(f"{name}[{model!r}]", item)
    return result


def _size(name: str, value: Any) -> int:
    try:
        return parse_bytes(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _checked_setting(name: str, value: Any) -> Any:
    if name == "vram":
        return None if value is None else _size(name, value)
    if name == "model_sizes":
        return _model_map(name, value, _size)
    if name == "model_load_ms":
        return _model_map(name, value, _number)
    number = _number(name, value)
    if name == "tokens":
        if int(number) != number:
            raise ValueError(f"tokens must be a whole number, got {value!r}")
        return int(number)
    return number


@dataclass
class Failure:
    kind: str
    remaining: int
    endpoints: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "remaining": self.remaining, "endpoints": list(self.endpoints)}


class SimState:
    """Everything one simulator process remembers."""

    def __init__(self, config: SimConfig) -> None:
        self.initial_config = dataclasses.replace(config)
        self.config = dataclasses.replace(config)
        self.catalogue = Catalogue()
        self.stats = Stats()
        self.residency = Residency(self.stats)
        self.holds = Holds()
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
        """Counters, log, failures, holds (held requests go on), settings and loaded models back to
        the start; models stay installed."""
        self.holds.release()
        self.stats.reset()
        self.failures.clear()
        self.config = dataclasses.replace(self.initial_config)
        self.residency.clear()
