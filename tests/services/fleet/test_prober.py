"""The prober asks each host what it runs; while it runs as a service it keeps one HTTP client (and its
connections) for every probe instead of building one per probe."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from app.services.fleet import hosts as fleet_hosts
from app.services.fleet import prober as prober_module
from app.services.fleet.prober import Prober
from tests.support.simulator import Simulator
from tests.support.waiting import until


async def test_a_running_prober_probes_with_one_client(
    db: asyncpg.Pool, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fleet_hosts.update(db, "default", base_url=sim.base_url)
    made: list[httpx.AsyncClient] = []

    class CountedClient(httpx.AsyncClient):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            made.append(self)

    monkeypatch.setattr(prober_module.httpx, "AsyncClient", CountedClient)
    prober = Prober(db, interval=0.01)
    task = asyncio.create_task(prober.run())
    try:
        await until(lambda: sim.stats()["requests"].get("version", 0) >= 3, what="three probes")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(made) == 1 and made[0].is_closed
    host = await fleet_hosts.get(db, "default")
    assert host is not None and host.reachable and "tinyllama:latest" in host.installed
