"""A real `aijobs serve` on this test's database, with three users: alice, bob and an admin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.auth import bearer, create_user
from tests.support.processes import ServiceProcess, start_server
from tests.support.simulator import Simulator


@dataclass
class Api:
    base_url: str
    server: ServiceProcess
    tokens: dict[str, str]
    clients: list[httpx.Client] = field(default_factory=list)

    def as_(self, who: str | None) -> httpx.Client:
        """A client signed in as `who` (alice, bob, admin), or with no token for None."""
        headers = bearer(self.tokens[who]) if who else {}
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=15)
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.server.stop()


@pytest.fixture
async def users(engine: AsyncEngine) -> dict[str, str]:
    tokens = {}
    for name, admin in (("alice", False), ("bob", False), ("admin", True)):
        _, tokens[name] = await create_user(engine, name, admin=admin)
    return tokens


@pytest.fixture
def start_api(users: dict[str, str], sim: Simulator, service_env: dict[str, str]) -> Iterator[Callable[..., Api]]:
    """Start the server with extra environment (e.g. MAX_QUEUED_PER_USER=2)."""
    started: list[Api] = []

    def start(processor: bool = True, **env: str) -> Api:
        server, base_url = start_server({**service_env, "OLLAMA_BASE_URL": sim.base_url, **env}, processor=processor)
        api = Api(base_url=base_url, server=server, tokens=users)
        started.append(api)
        return api

    yield start
    for api in started:
        api.close()


@pytest.fixture
async def api(start_api: Callable[..., Api]) -> AsyncIterator[Api]:
    yield start_api()
