"""A processor in this process, against the session's simulator and this test's database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.services.queue.processor import Processor
from tests.support.simulator import Simulator
from tests.support.waiting import until


@pytest.fixture
async def start_processor(
    engine: AsyncEngine, database: str, sim: Simulator, make_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., Awaitable[Processor]]]:
    started: list[Processor] = []

    async def start(**overrides: object) -> Processor:
        settings = make_settings(ollama_base_url=sim.base_url, **overrides)
        proc = Processor(settings=settings, engine=engine, database_url=database)
        await proc.start()

        async def listening() -> bool:
            return proc.listener.connected.is_set()

        await until(listening, what="LISTEN connection")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        await proc.stop(grace=0)


@pytest.fixture
async def processor(start_processor: Callable[..., Awaitable[Processor]]) -> Processor:
    return await start_processor()
