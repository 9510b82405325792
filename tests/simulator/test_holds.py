"""Holding generations for deterministic tests (/_sim/hold, /_sim/release), over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.simulator.text import reply_tokens
from tests.support.simulator import Simulator, start_simulator

TOKENS = 6


@pytest.fixture(scope="module")
def ollama_sim() -> Iterator[Simulator]:
    with start_simulator(token_delay=0.001, tokens=TOKENS) as sim:
        yield sim


@pytest.fixture
async def http(ollama_sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    ollama_sim.reset()
    async with httpx.AsyncClient(base_url=ollama_sim.base_url, timeout=10) as client:
        yield client


async def wait_held(sim: Simulator, count: int) -> dict[str, Any]:
    """sim.wait_held in a thread, so this test's own requests keep going meanwhile."""
    return await asyncio.to_thread(sim.wait_held, count)


async def wait_for(sim: Simulator, check: Any) -> dict[str, Any]:
    def poll() -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while not check(stats := sim.stats()):
            assert time.monotonic() < deadline, stats
            time.sleep(0.01)  # polling the simulator for a state, bounded by the deadline
        return stats

    return await asyncio.to_thread(poll)


async def test_a_held_stream_stops_after_n_tokens_until_released(
    ollama_sim: Simulator, http: httpx.AsyncClient
) -> None:
    assert ollama_sim.hold(endpoints=["generate"], after_tokens=2)["holds"] == [
        {"endpoints": ["generate"], "after_tokens": 2, "remaining": None}
    ]
    body = {"model": "tinyllama", "prompt": "hold me"}
    async with http.stream("POST", "/api/generate", json=body) as response:
        lines = response.aiter_lines()
        first_two = [json.loads(await anext(lines)) for _ in range(2)]
        stats = await wait_held(ollama_sim, 1)
        (entry,) = stats["log"]
        assert stats["held"] == 1 and stats["in_flight"] == 1 and entry["held"] is True and entry["tokens"] == 2
        assert ollama_sim.release() == 1
        rest = [json.loads(line) async for line in lines if line]
    pieces = [chunk["response"] for chunk in [*first_two, *rest] if not chunk["done"]]
    assert pieces == reply_tokens("hold me", TOKENS) and rest[-1]["done"] is True
    stats = ollama_sim.stats()
    assert stats["held"] == 0 and stats["completed"] == 1 and stats["holds"] == []


async def test_count_limits_a_hold_and_unstreamed_chat_is_held_too(
    ollama_sim: Simulator, http: httpx.AsyncClient
) -> None:
    ollama_sim.hold(endpoints=["chat"], after_tokens=0, count=1)
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "x"}], "stream": False}
    held = asyncio.create_task(http.post("/api/chat", json=body))
    stats = await wait_held(ollama_sim, 1)
    assert stats["holds"] == [] and stats["log"][0]["tokens"] == 0  # used up; held before its first token
    passing = await http.post("/api/chat", json=body)  # the hold caught one request only
    generated = await http.post("/api/generate", json={"model": "llama3.2", "prompt": "x", "stream": False})
    assert passing.json()["done"] is True and generated.json()["done"] is True and not held.done()
    ollama_sim.release()
    assert (await held).json()["message"]["content"] == passing.json()["message"]["content"]


async def test_a_hold_after_the_last_token_stops_before_the_done_chunk(
    ollama_sim: Simulator, http: httpx.AsyncClient
) -> None:
    ollama_sim.hold(after_tokens=TOKENS)
    async with http.stream("POST", "/api/generate", json={"model": "tinyllama", "prompt": "x"}) as response:
        lines = response.aiter_lines()
        chunks = [json.loads(await anext(lines)) for _ in range(TOKENS)]
        await wait_held(ollama_sim, 1)
        assert not any(chunk["done"] for chunk in chunks)
        ollama_sim.release()
        assert json.loads(await anext(lines))["done"] is True


async def test_a_client_that_leaves_while_held_is_a_disconnect(ollama_sim: Simulator, http: httpx.AsyncClient) -> None:
    ollama_sim.hold(after_tokens=1)
    async with http.stream("POST", "/api/generate", json={"model": "tinyllama", "prompt": "x"}) as response:
        lines = response.aiter_lines()  # kept: a dropped line iterator closes the response
        await anext(lines)
        await wait_held(ollama_sim, 1)
    stats = await wait_for(ollama_sim, lambda s: s["disconnects"] == 1)
    assert stats["held"] == 0 and stats["in_flight"] == 0 and stats["log"][0]["outcome"] == "disconnect"
    assert ollama_sim.release() == 0


async def test_reset_releases_held_requests(ollama_sim: Simulator, http: httpx.AsyncClient) -> None:
    ollama_sim.hold(after_tokens=1)
    held = asyncio.create_task(http.post("/api/generate", json={"model": "tinyllama", "prompt": "x", "stream": False}))
    await wait_held(ollama_sim, 1)
    ollama_sim.reset()
    stats = ollama_sim.stats()
    assert stats["held"] == 0 and stats["holds"] == []
    assert (await held).json()["done"] is True
    after = await http.post("/api/generate", json={"model": "tinyllama", "prompt": "x", "stream": False})
    assert after.json()["done"] is True and ollama_sim.stats()["held"] == 0  # no hold is left behind


def test_wait_held_times_out_with_the_stats(ollama_sim: Simulator) -> None:
    ollama_sim.reset()
    with pytest.raises(TimeoutError, match="held"):
        ollama_sim.wait_held(1, timeout=0.05)


@pytest.mark.parametrize(
    "body",
    [
        {"endpoints": ["embed"]},
        {"endpoints": "generate"},
        {"after_tokens": -1},
        {"after_tokens": 1.5},
        {"count": 0},
        {"count": True},
        {"model": "tinyllama"},
    ],
)
async def test_bad_holds_are_400(ollama_sim: Simulator, http: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await http.post("/_sim/hold", json=body)
    assert response.status_code == 400 and response.json()["error"]
    assert ollama_sim.stats()["holds"] == []
