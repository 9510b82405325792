"""The drop-in Ollama front, driven by the official `ollama` client, unmodified."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import ollama
import pytest

from tests.support.api import Api
from tests.support.jobs import TERMINAL, leases_held
from tests.support.simulator import Simulator
from tests.support.waiting import until


@pytest.fixture
async def clients() -> AsyncIterator[list[ollama.AsyncClient]]:
    made: list[ollama.AsyncClient] = []
    yield made
    for made_client in made:
        await made_client.close()


@pytest.fixture
def client(clients: list[ollama.AsyncClient]) -> Callable[..., ollama.AsyncClient]:
    """An unmodified Ollama client pointed at aijobs, signed in as `who`."""

    def make(api: Api, who: str | None = "alice") -> ollama.AsyncClient:
        headers = {"Authorization": f"Bearer {api.tokens[who]}"} if who else {}
        made = ollama.AsyncClient(host=api.base_url, headers=headers, timeout=30)
        clients.append(made)
        return made

    return make


async def test_generate_chat_embed_and_listing_through_aijobs(api: Api, sim: Simulator, client: Callable) -> None:
    alice = client(api)
    whole = await alice.generate(model="tinyllama", prompt="Why is the sky blue?")
    assert whole.done and whole.response and whole.done_reason == "stop"

    pieces = [part async for part in await alice.generate(model="tinyllama", prompt="Hello", stream=True)]
    assert pieces[-1].done and not any(part.done for part in pieces[:-1])
    assert "".join(part.response for part in pieces)

    streamed = [
        part
        async for part in await alice.chat(model="tinyllama", messages=[{"role": "user", "content": "Hi"}], stream=True)
    ]
    assert streamed[-1].done and "".join(part.message.content or "" for part in streamed)

    vectors = await alice.embed(model="nomic-embed-text", input=["one", "two"])
    assert len(vectors.embeddings) == 2

    assert "tinyllama:latest" in [model.model for model in (await alice.list()).models]
    assert (await alice.ps()).models is not None
    # Every one of these went through the queue: they are alice's jobs.
    listed = api.as_("alice").get("/api/ai-agent/jobs", params={"limit": 10}).json()["jobs"]
    assert sorted(job["job_type"] for job in listed) == ["chat", "embed", "generate", "generate"]
    assert all(job["status"] == "completed" for job in listed)


async def test_two_clients_at_once_never_share_the_gpu(api: Api, sim: Simulator, client: Callable) -> None:
    sim.configure(token_delay=0.02, tokens=20)

    async def ask(who: str, n: int) -> str:
        reply = await client(api, who).generate(model="tinyllama", prompt=f"question {n}")
        return reply.response

    answers = await asyncio.gather(*(ask(who, n) for n, who in enumerate(["alice", "bob"] * 3)))
    assert all(answers)
    stats = sim.stats()
    assert stats["requests"]["generate"] == 6 and stats["max_in_flight"] == 1


async def test_a_client_that_disconnects_mid_stream_cancels_the_job(api: Api, sim: Simulator, db: asyncpg.Pool) -> None:
    sim.configure(token_delay=0.05, tokens=400)
    headers = {"Authorization": f"Bearer {api.tokens['alice']}"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=headers, timeout=30) as http:
        async with http.stream("POST", "/api/generate", json={"model": "tinyllama", "prompt": "long"}) as reply:
            assert reply.status_code == 200
            lines = reply.aiter_lines()
            first = json.loads(await anext(lines))
            assert first["done"] is False and first["model"] == "tinyllama"
    # The caller is gone: the job ends cancelled, Ollama saw the disconnect, the GPU is free.
    job_id = api.as_("alice").get("/api/ai-agent/jobs").json()["jobs"][0]["job_id"]

    def cancelled() -> bool:
        return api.as_("alice").get(f"/api/ai-agent/job/{job_id}/status").json()["status"] in TERMINAL

    await until(cancelled, within=10, what="job ended after the client left")
    status = api.as_("alice").get(f"/api/ai-agent/job/{job_id}/status").json()
    assert status["status"] == "cancelled"
    await until(lambda: sim.stats()["disconnects"] >= 1, within=5, what="simulator saw the disconnect")
    assert await leases_held(db) == 0


async def test_errors_come_back_in_ollamas_shape(api: Api, client: Callable) -> None:
    with pytest.raises(ollama.ResponseError) as missing:
        await client(api).generate(model="no-such-model", prompt="hi")
    assert missing.value.status_code == 404 and "not found" in missing.value.error
    with pytest.raises(ollama.ResponseError) as unauthorized:
        await client(api, None).generate(model="tinyllama", prompt="hi")
    assert unauthorized.value.status_code == 401


async def test_empty_prompt_loads_and_keep_alive_zero_unloads(api: Api, sim: Simulator, client: Callable) -> None:
    alice = client(api)
    loaded = await alice.generate(model="tinyllama", prompt="", keep_alive="10m")
    assert loaded.done_reason == "load"
    assert "tinyllama:latest" in [model.model for model in (await alice.ps()).models]
    unloaded = await alice.generate(model="tinyllama", prompt="", keep_alive=0)
    assert unloaded.done_reason == "unload"
    job_types = [job["job_type"] for job in api.as_("alice").get("/api/ai-agent/jobs").json()["jobs"]]
    assert job_types == ["model.unload", "model.load"]
