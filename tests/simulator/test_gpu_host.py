"""The simulator as a GPU host with limited memory, over real HTTP: loading on first use, evicting
idle models to make room, waiting while the models in the way are busy, refusing a model larger
than the GPU with Ollama's 500, and the counters a scheduler reads."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import ollama
import pytest

from tests.support.simulator import Simulator, start_simulator

GIB = 1024**3
SIZES = {"tinyllama": "2GiB", "qwen2.5:0.5b": "2GiB", "llama3.2": "3GiB"}


@pytest.fixture(scope="module")
def host() -> Iterator[Simulator]:
    with start_simulator(token_delay=0.001, tokens=4) as sim:
        yield sim


@pytest.fixture
def sim(host: Simulator) -> Simulator:
    host.reset()
    host.configure(vram="5GiB", model_sizes=SIZES)
    return host


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as client:
        yield client


async def load(http: httpx.AsyncClient, model: str, **body: Any) -> dict[str, Any]:
    response = await http.post("/api/generate", json={"model": model, "stream": False, **body})
    assert response.status_code == 200, response.text
    return response.json()


async def loaded(http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in (await http.get("/api/ps")).json()["models"]}


async def until(sim: Simulator, check: Any, what: str) -> dict[str, Any]:
    """Poll the stats (in a thread: the client's requests must keep going) until `check` holds."""

    def poll() -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while True:
            stats = sim.stats()
            if check(stats):
                return stats
            assert time.monotonic() < deadline, f"never saw {what}"
            time.sleep(0.01)  # polling the simulator for a state, bounded by the deadline

    return await asyncio.to_thread(poll)


async def test_an_idle_model_is_evicted_least_recently_used_first(sim: Simulator, http: httpx.AsyncClient) -> None:
    await load(http, "tinyllama")
    await load(http, "qwen2.5:0.5b")
    await load(http, "tinyllama", prompt="use it again")  # qwen2.5 is now the least recently used
    assert set(await loaded(http)) == {"tinyllama:latest", "qwen2.5:0.5b"}

    await load(http, "llama3.2")  # 3 GiB more than the 4 in use: one 2 GiB model must go
    models = await loaded(http)
    assert set(models) == {"tinyllama:latest", "llama3.2:latest"}
    assert models["llama3.2:latest"]["size"] == models["llama3.2:latest"]["size_vram"] == 3 * GIB
    stats = sim.stats()
    assert stats["evictions"] == 1 and stats["loads"] == 3 and stats["vram_used"] == 5 * GIB
    assert stats["model_loads"] == {"tinyllama:latest": 1, "qwen2.5:0.5b": 1, "llama3.2:latest": 1}


async def test_the_shortest_keep_alive_goes_first(sim: Simulator, http: httpx.AsyncClient) -> None:
    """Ollama's findRunnerToUnload sorts idle models by keep_alive before anything else."""
    await load(http, "qwen2.5:0.5b", keep_alive=-1)  # least recently used, but kept forever
    await load(http, "tinyllama")  # the default five minutes
    await load(http, "llama3.2")
    assert set(await loaded(http)) == {"qwen2.5:0.5b", "llama3.2:latest"}


async def test_a_model_in_use_is_not_evicted_the_request_waits(sim: Simulator, http: httpx.AsyncClient) -> None:
    sim.configure(vram="4GiB")
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    busy = asyncio.create_task(http.post("/api/generate", json={"model": "tinyllama", "prompt": "x", "stream": False}))
    await asyncio.to_thread(sim.wait_held, 1)
    waiting = asyncio.create_task(
        http.post("/api/generate", json={"model": "llama3.2", "prompt": "y", "stream": False})
    )
    stats = await until(sim, lambda s: s["waiting_for_memory"] == 1, "the second request waiting for memory")
    assert stats["in_flight"] == 2 and stats["evictions"] == 0
    assert set(await loaded(http)) == {"tinyllama:latest"}

    sim.release()
    assert (await busy).status_code == 200
    second = await waiting
    assert second.status_code == 200 and second.json()["done"] is True
    assert set(await loaded(http)) == {"llama3.2:latest"}  # evicted once idle, to make room
    stats = sim.stats()
    assert stats["evictions"] == 1 and stats["waiting_for_memory"] == 0
    (entry,) = [entry for entry in stats["log"] if entry["model"] == "llama3.2"]
    assert entry["load_seconds"] > 0  # the wait counts in its load time, as in Ollama's load_duration


async def test_a_model_larger_than_the_gpu_fails_at_once_with_ollamas_500(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    sim.configure(vram="2GiB", model_sizes={"llama3.2": "3GiB", "nomic-embed-text": "2.5GiB"})
    expected = {"error": "model requires more system memory (3.0 GiB) than is available (2.0 GiB)"}
    for stream in (False, True):  # refused before any byte: a JSON 500 even when streaming was asked for
        response = await http.post("/api/generate", json={"model": "llama3.2", "prompt": "x", "stream": stream})
        assert response.status_code == 500 and response.json() == expected
        assert response.headers["content-type"].startswith("application/json")
    embed = await http.post("/api/embed", json={"model": "nomic-embed-text", "input": "x"})
    assert embed.status_code == 500 and "(2.5 GiB)" in embed.json()["error"]
    client = ollama.AsyncClient(host=sim.base_url, timeout=10)
    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}])
    await client.close()
    assert caught.value.status_code == 500 and caught.value.error == expected["error"]
    assert await loaded(http) == {} and sim.stats()["loads"] == 0


async def test_load_times_per_model_and_the_counters(sim: Simulator, http: httpx.AsyncClient) -> None:
    sim.configure(load_ms=0, model_load_ms={"tinyllama": 120})
    slow = await load(http, "tinyllama", prompt="x")
    fast = await load(http, "qwen2.5:0.5b", prompt="x")
    warm = await load(http, "tinyllama", prompt="x")
    assert slow["load_duration"] >= 120_000_000 > warm["load_duration"]
    assert fast["load_duration"] < slow["load_duration"]
    stats = sim.stats()
    assert stats["loads"] == 2 and 0.12 <= stats["load_seconds"] < 5
    assert stats["generate_seconds"] > 0 and stats["busy_seconds"] >= stats["load_seconds"]


async def test_busy_seconds_is_the_union_and_generate_seconds_the_sum(sim: Simulator, http: httpx.AsyncClient) -> None:
    sim.configure(token_delay=0.02)
    sim.hold(endpoints=["generate"], after_tokens=1)
    body = {"model": "tinyllama", "prompt": "x", "stream": False}
    both = [asyncio.create_task(http.post("/api/generate", json=body)) for _ in range(2)]
    await asyncio.to_thread(sim.wait_held, 2)
    sim.release()
    assert [(await task).status_code for task in both] == [200, 200]
    stats = sim.stats()
    assert stats["generate_seconds"] >= 2 * 4 * 0.02  # two generations of four tokens each
    assert stats["busy_seconds"] < stats["generate_seconds"]  # they overlapped
    sim.reset()
    stats = sim.stats()
    assert stats["generate_seconds"] == stats["load_seconds"] == stats["evictions"] == 0
    assert stats["busy_seconds"] < 0.5 and stats["model_loads"] == {}


async def test_a_reload_with_another_context_keeps_the_old_memory_until_idle(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    busy = asyncio.create_task(http.post("/api/generate", json={"model": "tinyllama", "prompt": "x", "stream": False}))
    await asyncio.to_thread(sim.wait_held, 1)
    await load(http, "tinyllama", options={"num_ctx": 8192})
    assert sim.stats()["vram_used"] == 4 * GIB  # the old copy still serves the held request
    sim.release()
    assert (await busy).status_code == 200
    assert sim.stats()["vram_used"] == 2 * GIB
    assert (await loaded(http))["tinyllama:latest"]["context_length"] == 8192


def test_unlimited_memory_by_default_keeps_every_model(host: Simulator) -> None:
    host.reset()
    with httpx.Client(base_url=host.base_url, timeout=10) as http:
        http.post("/api/pull", json={"model": "mistral"}).raise_for_status()
        for model in ("tinyllama", "qwen2.5:0.5b", "llama3.2", "mistral"):
            assert http.post("/api/generate", json={"model": model}).status_code == 200
        assert len(http.get("/api/ps").json()["models"]) == 4
    stats = host.stats()
    assert stats["evictions"] == 0 and stats["config"]["vram"] is None


# --- settings --------------------------------------------------------------------------------


def test_the_command_line_flags_set_the_host() -> None:
    sizes = {"tinyllama": "1.5GiB"}
    with start_simulator(vram="6GiB", load_ms=30, model_sizes=sizes, model_load_ms={"qwen2.5:0.5b": 50}) as sim:
        config = sim.stats()["config"]
        assert config["vram"] == 6 * GIB and config["load_delay"] == 0.03 and config["load_ms"] == 30
        assert config["model_sizes"] == {"tinyllama": int(1.5 * GIB)}
        assert config["model_load_ms"] == {"qwen2.5:0.5b": 50}
        with httpx.Client(base_url=sim.base_url, timeout=10) as http:
            assert http.post("/api/generate", json={"model": "TinyLlama"}).json()["done_reason"] == "load"
            assert http.get("/api/ps").json()["models"][0]["size"] == int(1.5 * GIB)
        sim.configure(load_delay=0.5)
        sim.reset()  # back to the command line's settings
        assert sim.stats()["config"]["load_ms"] == 30


@pytest.mark.parametrize(
    "flags",
    [
        ["--load-delay", "1", "--load-ms", "5"],
        ["--vram", "8XB"],
        ["--vram", "0"],
        ["--model-size", "tinyllama"],
        ["--model-size", "bad name!=1GiB"],
        ["--model-load-ms", "tinyllama=-1"],
    ],
)
def test_bad_flags_are_refused(flags: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "app.simulator", *flags], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "error" in done.stderr


@pytest.mark.parametrize(
    "settings",
    [
        {"vram": "lots"},
        {"vram": -5},
        {"model_sizes": {"bad name!": "1GiB"}},
        {"model_sizes": ["tinyllama"]},
        {"model_load_ms": {"tinyllama": "slow"}},
        {"load_ms": 5, "load_delay": 1},
    ],
)
def test_bad_settings_are_400_and_change_nothing(host: Simulator, settings: dict[str, Any]) -> None:
    host.reset()
    before = host.stats()["config"]
    with httpx.Client(base_url=host.base_url, timeout=10) as http:
        assert http.post("/_sim/config", json=settings).status_code == 400
    assert host.stats()["config"] == before


def test_vram_can_be_lifted_at_run_time(host: Simulator) -> None:
    host.reset()
    assert host.configure(vram=8 * GIB)["vram"] == 8 * GIB
    assert host.configure(vram=None)["vram"] is None
    assert host.configure(load_ms=250)["load_delay"] == 0.25
