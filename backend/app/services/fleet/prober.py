"""The prober: asks every host, every few seconds, whether it answers, which Ollama it runs, what it has
loaded (`/api/ps`) and installed (`/api/tags`, with sizes). A host that fails DOWN_AFTER probes in a row is
marked down: nothing is placed on it (its running jobs fail as transient and run again elsewhere); one that
answers again is up again. Placement reads what the prober wrote.

A background service: `run_once()` probes every host once (tests call it); `run()` repeats it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx

from app.model_names import split
from app.services.fleet import hosts as fleet_hosts
from app.services.fleet import sql

log = logging.getLogger(__name__)

DOWN_AFTER = 3  # failed probes in a row before a host is marked down
PROBE_TIMEOUT = 2.0


def model_key(name: str) -> str:
    """How a model is named wherever hosts and jobs are compared: Ollama's short form, lower case."""
    return split(name).display.lower()


class Prober:
    def __init__(self, db: asyncpg.Pool, *, interval: float, on_change: Callable[[str], None] | None = None) -> None:
        self._db = db
        self.interval = interval
        self._on_change = on_change  # told of each host that went down or came back
        # While `run()` runs, one client for every probe: a new one costs a TLS context (about 5 ms of CPU,
        # every interval, landing between two jobs) and new connections.
        self._client: httpx.AsyncClient | None = None

    async def run_once(self) -> dict[str, bool]:
        """Probe every host; whether each is reachable now."""
        if self._client is None:
            async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as client:
                return await self._probe_all(client)
        return await self._probe_all(self._client)

    async def _probe_all(self, client: httpx.AsyncClient) -> dict[str, bool]:
        found = await fleet_hosts.all_hosts(self._db)
        results = await asyncio.gather(*(self._probe(client, host) for host in found))
        return dict(zip((host.name for host in found), results, strict=True))

    async def _probe(self, client: httpx.AsyncClient, host: fleet_hosts.Host) -> bool:
        seen = await _ask(client, host.base_url)
        row = await sql.PROBED.fetchrow(
            self._db,
            name=host.name,
            ok=seen is not None,
            down_after=DOWN_AFTER,
            version=seen["version"] if seen else None,
            loaded=seen["loaded"] if seen else [],
            loaded_models=[model_key(entry["name"]) for entry in seen["loaded"]] if seen else [],
            installed=seen["installed"] if seen else {},
        )
        if row is None:
            return False  # removed meanwhile
        if row["was_reachable"] is not None and row["reachable"] != row["was_reachable"]:
            log.warning("host %s is %s", host.name, "up again" if row["reachable"] else "down (not answering)")
            if self._on_change is not None:
                self._on_change(host.name)
        return bool(row["reachable"])

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as client:
            self._client = client
            try:
                while True:
                    await self.run_once()
                    await asyncio.sleep(self.interval)
            finally:
                self._client = None


async def _ask(client: httpx.AsyncClient, base_url: str) -> dict[str, Any] | None:
    """What the host says about itself, or None if it does not answer."""
    base = base_url.rstrip("/")
    try:
        version, ps, tags = await asyncio.gather(
            client.get(f"{base}/api/version"), client.get(f"{base}/api/ps"), client.get(f"{base}/api/tags")
        )
        for reply in (version, ps, tags):
            reply.raise_for_status()
        loaded = [
            {
                "name": entry.get("name") or entry.get("model"),
                "size": entry.get("size_vram") or entry.get("size"),
                "expires_at": entry.get("expires_at"),
            }
            for entry in ps.json().get("models") or []
        ]
        installed = {model_key(entry["name"]): entry.get("size") or 0 for entry in tags.json().get("models") or []}
        return {"version": version.json().get("version"), "loaded": loaded, "installed": installed}
    except (httpx.HTTPError, ValueError, KeyError):
        return None
