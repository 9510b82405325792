"""The GPU hosts: each one Ollama server with its own slots. Hosts live in the database; admins manage them
(API, `aijobs hosts …`), OLLAMA_HOSTS seeds them at start, and with nothing configured the one host is
OLLAMA_BASE_URL with MAX_CONCURRENT_JOBS slots — so a single-GPU deployment behaves as it always did."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from types import EllipsisType
from typing import Any

from app.config import Settings
from app.db import Executor
from app.errors import Conflict, InvalidInput, NotFound
from app.services.fleet import sql

DEFAULT_HOST = "default"  # the one host of a deployment that configures none
NAME_RULE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
LABEL_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$")
SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
SIZE_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
MAX_SIZE = 2**63 - 1  # the column is a bigint
MAX_URL_LENGTH = 2000
URL_RULE = re.compile(r"^https?://[^\s/?#\x00-\x1f\x7f]+(/[^\s\x00-\x1f\x7f]*)?$")


@dataclass(frozen=True)
class Host:
    name: str
    base_url: str
    slots: int
    gpu_memory: int | None = None
    labels: list[str] = field(default_factory=list)
    draining: bool = False
    reachable: bool = True
    failures: int = 0
    version: str | None = None
    loaded: list[dict[str, Any]] = field(default_factory=list)
    loaded_models: list[str] = field(default_factory=list)
    installed: dict[str, int] = field(default_factory=dict)
    probed_at: datetime | None = None

    @property
    def state(self) -> str:
        """`draining` (finishes what runs, takes nothing new), `down` (unreachable) or `up`."""
        if self.draining:
            return "draining"
        return "up" if self.reachable else "down"

    @property
    def takes_work(self) -> bool:
        return self.reachable and not self.draining

    def slot_keys(self, pool: str = "gpu") -> list[str]:
        return slot_keys(self.name, self.slots, pool)

    @classmethod
    def from_row(cls, row: Any) -> Host:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


def slot_keys(host: str, slots: int, pool: str = "gpu") -> list[str]:
    """A host's GPU slots in a pool as lease keys: `gpu/<host>/<i>`; the default host keeps `gpu/<i>`."""
    if host == DEFAULT_HOST:
        return [f"{pool}/{n}" for n in range(slots)]
    return [f"{pool}/{host}/{n}" for n in range(slots)]


def host_of_slot(key: str) -> str:
    """The host a slot key belongs to (`gpu/0` → default, `gpu/box-a/0` → box-a)."""
    parts = key.split("/")
    return parts[1] if len(parts) == 3 else DEFAULT_HOST


def parse_size(text: str, field_name: str) -> int:
    """`24GiB`, `24 GB`, `25769803776` → bytes."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    unit = found.group(2).lower() if found else ""
    if found is None or unit not in SIZE_UNITS:
        raise InvalidInput(
            f"{field_name}: {text!r} is not a size; write e.g. 24GiB, 16GB or a number of bytes.",
            {"field": field_name},
        )
    size = float(found.group(1)) * SIZE_UNITS[unit]
    return check_size(int(size) if math.isfinite(size) and size <= MAX_SIZE else MAX_SIZE + 1, field_name)


def check_size(size: int, field_name: str) -> int:
    if not 1 <= size <= MAX_SIZE:
        raise InvalidInput(
            f"{field_name}: {size} bytes is not a GPU's memory; write e.g. 24GiB, 16GB or a number of bytes.",
            {"field": field_name},
        )
    return size


def gpu_memory(value: int | str | None, field_name: str = "gpu_memory") -> int | None:
    """A host's GPU memory as given over the API or the CLI: bytes, a size such as `24GiB`, or None (unknown:
    no fit check)."""
    if value is None:
        return None
    if isinstance(value, str):
        return parse_size(value, field_name)
    return check_size(value, field_name)


def check(name: str, base_url: str, slots: int, labels: list[str]) -> None:
    if not NAME_RULE.match(name):
        raise InvalidInput(
            f"Host name {name[:100]!r}: 1-63 lower-case letters, digits, '.', '_' or '-', starting with a letter "
            "or digit.",
            {"field": "name"},
        )
    if len(base_url) > MAX_URL_LENGTH or not URL_RULE.match(base_url):
        raise InvalidInput(
            f"Host address {base_url[:100]!r}: the http(s):// URL of its Ollama, e.g. http://10.0.0.1:11434.",
            {"field": "base_url"},
        )
    if not 1 <= slots <= 64:
        raise InvalidInput(f"slots {slots}: between 1 and 64 jobs at once.", {"field": "slots"})
    for label in labels:
        if not LABEL_RULE.match(label):
            raise InvalidInput(f"Label {label!r}: letters, digits, '.', '_', ':' or '-'.", {"field": "labels"})


def parse_hosts_setting(value: str) -> list[dict[str, Any]]:
    """OLLAMA_HOSTS: hosts separated by `;`, each `NAME URL [slots=N] [memory=SIZE] [labels=a,b]`, e.g.
    `box-a http://10.0.0.1:11434 slots=2 memory=24GiB labels=a100; box-b http://10.0.0.2:11434`."""
    found = []
    for number, entry in enumerate(part.strip() for part in value.split(";")):
        if not entry:
            continue
        words = entry.split()
        if len(words) < 2:
            raise InvalidInput(f"OLLAMA_HOSTS entry {number + 1} {entry!r}: write NAME URL [slots=N] [memory=SIZE].")
        host: dict[str, Any] = {"name": words[0], "base_url": words[1], "slots": 1, "gpu_memory": None, "labels": []}
        for option in words[2:]:
            key, _, text = option.partition("=")
            if key == "slots" and text.isdigit():
                host["slots"] = int(text)
            elif key == "memory":
                host["gpu_memory"] = parse_size(text, f"OLLAMA_HOSTS {words[0]} memory")
            elif key == "labels":
                host["labels"] = [label for label in text.split(",") if label]
            else:
                raise InvalidInput(f"OLLAMA_HOSTS {words[0]}: unknown option {option!r} (slots=, memory=, labels=).")
        check(host["name"], host["base_url"], host["slots"], host["labels"])
        found.append(host)
    return found


async def seed(db: Executor, settings: Settings) -> None:
    """At start: the hosts OLLAMA_HOSTS names, or, with none, the default host from OLLAMA_BASE_URL and
    MAX_CONCURRENT_JOBS (updated from them at every start). Hosts added by admins stay as they are."""
    configured = parse_hosts_setting(settings.ollama_hosts) if settings.ollama_hosts else []
    if not configured:
        configured = [
            {
                "name": DEFAULT_HOST,
                "base_url": settings.ollama_base_url,
                "slots": settings.max_concurrent_jobs,
                "gpu_memory": None,
                "labels": [],
            }
        ]
    for host in configured:
        await sql.UPSERT_HOST.fetchrow(db, **host)
    if settings.ollama_hosts and DEFAULT_HOST not in {host["name"] for host in configured}:
        await sql.DELETE_HOST.fetchrow(db, name=DEFAULT_HOST)  # the named hosts replace it (once it is idle)


def check_configurable(name: str, base_url: str | None, slots: int | None, settings: Settings) -> None:
    """Without OLLAMA_HOSTS, every process runs the default host at its own OLLAMA_BASE_URL with its own
    MAX_CONCURRENT_JOBS: a change here would not last, so it is refused with what to do instead."""
    if name == DEFAULT_HOST and not settings.ollama_hosts and (base_url is not None or slots is not None):
        raise Conflict(
            "The default host follows OLLAMA_BASE_URL and MAX_CONCURRENT_JOBS: change those and restart, or "
            "name your hosts in OLLAMA_HOSTS (or add them here) to manage them one by one.",
            {"host": name, "field": "base_url" if base_url is not None else "slots"},
        )


def as_configured(host: Host, settings: Settings) -> Host:
    """Without OLLAMA_HOSTS, the default host is this process's OLLAMA_BASE_URL with its
    MAX_CONCURRENT_JOBS slots, as before there were hosts (its row may hold another process's)."""
    if host.name != DEFAULT_HOST or settings.ollama_hosts:
        return host
    return dataclasses.replace(host, base_url=settings.ollama_base_url, slots=settings.max_concurrent_jobs)


async def all_hosts(db: Executor) -> list[Host]:
    return [Host.from_row(row) for row in await sql.LIST_HOSTS.fetch(db)]


def _not_found(name: str) -> NotFound:
    return NotFound(f"No host {name[:100]!r}. `GET /api/ai-agent/hosts` lists them.", {"host": name[:100]})


async def get(db: Executor, name: str) -> Host:
    row = await sql.GET_HOST.fetchrow(db, name=name) if NAME_RULE.match(name) else None
    if row is None:
        raise _not_found(name)
    return Host.from_row(row)


async def add(db: Executor, name: str, base_url: str, slots: int, gpu_memory: int | None, labels: list[str]) -> Host:
    check(name, base_url, slots, labels)
    row = await sql.INSERT_HOST.fetchrow(
        db, name=name, base_url=base_url, slots=slots, gpu_memory=gpu_memory, labels=labels
    )
    if row is None:
        raise Conflict(f"A host named {name!r} exists already; update it instead.", {"host": name})
    return Host.from_row(row)


async def update(
    db: Executor,
    name: str,
    *,
    base_url: str | None = None,
    slots: int | None = None,
    gpu_memory: int | EllipsisType | None = ...,
    labels: list[str] | None = None,
) -> Host:
    """Change what is given; the rest stays. `gpu_memory=None` forgets the memory (no fit check); left out
    (`...`) it stays."""
    if base_url is None and slots is None and gpu_memory is ... and labels is None:
        raise InvalidInput("Nothing to change: give any of base_url, slots, gpu_memory, labels.", {"field": "body"})
    current = await get(db, name)
    changed = {
        "base_url": base_url if base_url is not None else current.base_url,
        "slots": slots if slots is not None else current.slots,
        "gpu_memory": gpu_memory if gpu_memory is not ... else current.gpu_memory,
        "labels": labels if labels is not None else current.labels,
    }
    check(name, changed["base_url"], changed["slots"], changed["labels"])
    row = await sql.UPDATE_HOST.fetchrow(db, name=name, **changed)
    if row is None:  # removed meanwhile
        raise _not_found(name)
    return Host.from_row(row)


async def set_draining(db: Executor, name: str, draining: bool) -> Host:
    """Draining: what runs there finishes, nothing new is placed there. Resumed: it takes work again."""
    row = await sql.SET_DRAINING.fetchrow(db, name=name, draining=draining) if NAME_RULE.match(name) else None
    if row is None:
        raise _not_found(name)
    return Host.from_row(row)


async def remove(db: Executor, name: str) -> None:
    """Only a host nothing runs on (drain it first); its learned costs stay, for when it comes back."""
    if not NAME_RULE.match(name) or await sql.DELETE_HOST.fetchrow(db, name=name) is None:
        await get(db, name)  # 404 if it does not exist
        raise Conflict(f"Host {name!r} is running jobs: drain it first, then remove it.", {"host": name})
