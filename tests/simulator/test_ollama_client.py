"""The simulator seen through the official `ollama` Python client: what code written against a real
Ollama gets, including every injected failure, disconnects and concurrency."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import ollama
import pytest
from pydantic import BaseModel

from app.simulator.text import reply_tokens
from tests.support.simulator import Simulator, start_simulator

TOKENS = 6


@pytest.fixture(scope="module")
def ollama_sim() -> Iterator[Simulator]:
    with start_simulator(token_delay=0.001, tokens=TOKENS, pull_chunk_delay=0.001) as sim:
        yield sim


@pytest.fixture
async def client(ollama_sim: Simulator) -> AsyncIterator[ollama.AsyncClient]:
    ollama_sim.reset()
    client = ollama.AsyncClient(host=ollama_sim.base_url, timeout=10)
    yield client
    await client.close()


async def wait_for_stats(sim: Simulator, check: Any, within: float = 5.0) -> dict[str, Any]:
    """Poll the stats until `check(stats)` holds (the simulator sees a disconnect asynchronously)."""
    deadline = time.monotonic() + within
    while True:
        stats = sim.stats()
        if check(stats):
            return stats
        assert time.monotonic() < deadline, f"stats never satisfied the check: {stats}"
        await asyncio.sleep(0.01)


async def test_generate_plain_and_streamed(client: ollama.AsyncClient) -> None:
    reply = await client.generate(model="tinyllama", prompt="Why is the sky blue?")
    assert reply.response == "".join(reply_tokens("Why is the sky blue?", TOKENS))
    assert reply.done and reply.done_reason == "stop" and reply.eval_count == TOKENS and reply.model == "tinyllama"
    parts = [
        part async for part in await client.generate(model="tinyllama", prompt="Why is the sky blue?", stream=True)
    ]
    assert "".join(part.response for part in parts) == reply.response
    assert parts[-1].done and not any(part.done for part in parts[:-1])


async def test_chat_plain_and_streamed(client: ollama.AsyncClient) -> None:
    messages = [{"role": "user", "content": "Tell me a joke"}]
    reply = await client.chat(model="llama3.2", messages=messages)
    assert reply.message.role == "assistant"
    assert reply.message.content == "".join(reply_tokens("Tell me a joke", TOKENS))
    parts = [part async for part in await client.chat(model="llama3.2", messages=messages, stream=True)]
    assert "".join(part.message.content or "" for part in parts) == reply.message.content
    assert parts[-1].done_reason == "stop"


async def test_embed_single_and_batch_are_unit_vectors(client: ollama.AsyncClient) -> None:
    single = await client.embed(model="nomic-embed-text", input="hello world")
    batch = await client.embed(model="nomic-embed-text", input=["hello world", "goodbye"])
    assert len(single.embeddings) == 1 and len(batch.embeddings) == 2
    assert batch.embeddings[0] == single.embeddings[0]
    for vector in batch.embeddings:
        assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-9)
    legacy = await client.embeddings(model="nomic-embed-text", prompt="hello world")
    assert list(legacy.embedding) == list(single.embeddings[0])


async def test_list_ps_show(client: ollama.AsyncClient) -> None:
    listed = {model.model for model in (await client.list()).models}
    assert {"tinyllama:latest", "llama3.2:latest", "qwen2.5:0.5b", "nomic-embed-text:latest"} <= listed
    assert (await client.ps()).models == []
    await client.generate(model="qwen2.5:0.5b", prompt="x")
    running = (await client.ps()).models
    assert [model.model for model in running] == ["qwen2.5:0.5b"] and running[0].expires_at is not None
    shown = await client.show("qwen2.5:0.5b")
    assert shown.details is not None and shown.details.family == "qwen2" and shown.modelinfo
    assert shown.capabilities == ["completion", "tools"]


@pytest.mark.parametrize(
    ("call", "status", "message"),
    [
        (lambda c: c.generate(model="llama3", prompt="x"), 404, "model 'llama3' not found"),
        (lambda c: c.chat(model="llama3", messages=[]), 404, "model 'llama3' not found"),
        (lambda c: c.show("llama3"), 404, "model 'llama3' not found"),
        (lambda c: c.delete("llama3"), 404, "model 'llama3' not found"),
        (lambda c: c.embed(model="llama3", input="x"), 404, 'model "llama3" not found, try pulling it first'),
        (lambda c: c.generate(model="bad name!", prompt="x"), 400, "invalid model name"),
        (lambda c: c.chat(model="nomic-embed-text", messages=[{"role": "user", "content": "x"}]), 400,
         '"nomic-embed-text" does not support chat'),
        (lambda c: c.generate(model="tinyllama", prompt="x", keep_alive="300"), 400,
         'time: missing unit in duration "300"'),
    ],
)  # fmt: skip
async def test_errors_raise_response_error_with_the_status(
    client: ollama.AsyncClient, call: Any, status: int, message: str
) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        await call(client)
    assert caught.value.status_code == status and caught.value.error == message


async def test_model_lookup_ignores_case_and_the_latest_tag(client: ollama.AsyncClient) -> None:
    for name in ("tinyllama", "tinyllama:latest", "TinyLlama:LATEST"):
        assert (await client.generate(model=name, prompt="x")).model == name


async def test_keep_alive_load_and_unload_show_in_ps(client: ollama.AsyncClient) -> None:
    loaded = await client.generate(model="tinyllama", keep_alive="5m")
    assert loaded.done_reason == "load"
    assert [model.model for model in (await client.ps()).models] == ["tinyllama:latest"]
    unloaded = await client.generate(model="tinyllama", keep_alive=0)
    assert unloaded.done_reason == "unload" and (await client.ps()).models == []


async def test_pull_progress_and_unknown_model(client: ollama.AsyncClient) -> None:
    progress = [part async for part in await client.pull("mistral", stream=True)]
    assert progress[0].status == "pulling manifest" and progress[-1].status == "success"
    assert any(part.total and part.completed == part.total for part in progress)
    assert "mistral:latest" in {model.model for model in (await client.list()).models}
    with pytest.raises(ollama.ResponseError) as streamed:
        _ = [part async for part in await client.pull("no-such-model", stream=True)]
    assert streamed.value.status_code == -1 and streamed.value.error == "pull model manifest: file does not exist"
    with pytest.raises(ollama.ResponseError) as plain:
        await client.pull("no-such-model")
    assert plain.value.status_code == 500


async def test_create_with_adapter_and_delete(client: ollama.AsyncClient) -> None:
    digest = "sha256:" + "ab" * 32
    result = await client.create(model="tuned", from_="llama3.2", adapters={"lora.gguf": digest}, system="Be terse.")
    assert result.status == "success"
    shown = await client.show("tuned")
    assert shown.details is not None and shown.details.parent_model == "llama3.2:latest"
    assert f"ADAPTER /root/.ollama/models/blobs/{digest.replace(':', '-')}" in (shown.modelfile or "")
    assert (await client.chat(model="tuned", messages=[{"role": "user", "content": "hi"}])).done
    assert (await client.delete("tuned")).status == "success"
    assert "tuned:latest" not in {model.model for model in (await client.list()).models}


class Recipe(BaseModel):
    title: str
    servings: int
    vegetarian: bool
    ingredients: list[str]


async def test_format_json_and_schema_give_parseable_json(client: ollama.AsyncClient, ollama_sim: Simulator) -> None:
    ollama_sim.configure(tokens=12)
    plain = await client.generate(model="tinyllama", prompt="Give JSON", format="json")
    assert isinstance(json.loads(plain.response), dict)
    parts = [
        part.message.content or ""
        async for part in await client.chat(
            model="llama3.2",
            messages=[{"role": "user", "content": "A recipe"}],
            format=Recipe.model_json_schema(),
            stream=True,
        )
    ]
    assert len([part for part in parts if part]) > 1  # streamed in pieces
    recipe = Recipe.model_validate_json("".join(parts))
    assert recipe.ingredients and recipe.title


@pytest.mark.parametrize(
    ("kind", "status"),
    [("busy", 503), ("error500", 500), ("not_found", 404), ("bad_request", 400)],
)
async def test_injected_http_errors(client: ollama.AsyncClient, ollama_sim: Simulator, kind: str, status: int) -> None:
    ollama_sim.fail(kind, 2, endpoints=["generate"])
    with pytest.raises(ollama.ResponseError) as plain:
        await client.generate(model="tinyllama", prompt="x")
    with pytest.raises(ollama.ResponseError) as streamed:
        _ = [part async for part in await client.generate(model="tinyllama", prompt="x", stream=True)]
    assert plain.value.status_code == streamed.value.status_code == status
    if kind == "busy":
        assert plain.value.error == "server busy, please try again.  maximum pending requests exceeded"
    assert (await client.generate(model="tinyllama", prompt="x")).done  # only `count` requests fail
    assert [entry["outcome"] for entry in ollama_sim.stats()["log"]] == ["error", "error", "done"]


async def test_injected_failures_only_hit_the_named_endpoints(
    client: ollama.AsyncClient, ollama_sim: Simulator
) -> None:
    ollama_sim.fail("busy", 1, endpoints=["chat"])
    assert (await client.generate(model="tinyllama", prompt="x")).done
    with pytest.raises(ollama.ResponseError):
        await client.chat(model="tinyllama", messages=[{"role": "user", "content": "x"}])


async def test_midstream_error_is_status_minus_one_after_some_tokens(
    client: ollama.AsyncClient, ollama_sim: Simulator
) -> None:
    ollama_sim.fail("midstream", 1, endpoints=["generate"])
    received: list[str] = []
    with pytest.raises(ollama.ResponseError) as caught:
        async for part in await client.generate(model="tinyllama", prompt="x", stream=True):
            received.append(part.response)
    assert caught.value.status_code == -1 and received and not any(p == "" for p in received)
    assert ollama_sim.stats()["log"][0]["outcome"] == "error"


async def test_drop_is_a_connection_error_not_a_response_error(
    client: ollama.AsyncClient, ollama_sim: Simulator
) -> None:
    await client.generate(model="tinyllama", prompt="warm the connection pool")
    ollama_sim.fail("drop", 2, endpoints=["generate"])
    with pytest.raises(httpx.RemoteProtocolError):
        await client.generate(model="tinyllama", prompt="x")
    with pytest.raises(httpx.RemoteProtocolError):
        _ = [part async for part in await client.generate(model="tinyllama", prompt="x", stream=True)]
    assert (await client.generate(model="tinyllama", prompt="x")).done


async def test_closing_the_stream_stops_generation_and_counts_a_disconnect(
    client: ollama.AsyncClient, ollama_sim: Simulator
) -> None:
    ollama_sim.configure(token_delay=0.02, tokens=500)  # 10 s if it ran to the end
    stream = await client.generate(model="tinyllama", prompt="a long story", stream=True)
    async for part in stream:
        if part.response:
            break
    await stream.aclose()
    stats = await wait_for_stats(ollama_sim, lambda s: s["disconnects"] == 1)
    (entry,) = stats["log"]
    assert entry["outcome"] == "disconnect" and entry["prompt"] == "a long story"
    assert entry["tokens"] < 50 and entry["end"] - entry["start"] < 2
    assert stats["in_flight"] == 0 and stats["completed"] == 0
    # Let time pass by doing other work (no sleep): the closed generation must not have moved on.
    ollama_sim.configure(tokens=5)
    await client.generate(model="tinyllama", prompt="after")
    assert ollama_sim.stats()["log"][0]["tokens"] == entry["tokens"]


async def test_cancelling_a_plain_request_is_a_disconnect_too(
    client: ollama.AsyncClient, ollama_sim: Simulator
) -> None:
    ollama_sim.configure(token_delay=0.02, tokens=500)
    task = asyncio.create_task(client.generate(model="tinyllama", prompt="x"))
    await wait_for_stats(ollama_sim, lambda s: s["log"] and s["log"][0]["tokens"] > 0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stats = await wait_for_stats(ollama_sim, lambda s: s["disconnects"] == 1)
    assert stats["log"][0]["outcome"] == "disconnect" and stats["in_flight"] == 0


async def test_two_concurrent_generations_are_both_in_flight(client: ollama.AsyncClient, ollama_sim: Simulator) -> None:
    ollama_sim.configure(token_delay=0.02, tokens=500)
    streams = [await client.generate(model="tinyllama", prompt=f"story {n}", stream=True) for n in range(2)]
    for stream in streams:  # each has produced a token and has hundreds to go: both are running
        await anext(stream)
    stats = ollama_sim.stats()
    assert stats["in_flight"] == 2 and stats["max_in_flight"] == 2
    for stream in streams:
        await stream.aclose()
    await wait_for_stats(ollama_sim, lambda s: s["disconnects"] == 2 and s["in_flight"] == 0)
    ollama_sim.reset()
    stats = ollama_sim.stats()
    assert stats["in_flight"] == stats["max_in_flight"] == stats["disconnects"] == 0 and stats["log"] == []


async def test_loads_through_generate_count_as_gpu_work(client: ollama.AsyncClient, ollama_sim: Simulator) -> None:
    ollama_sim.configure(load_delay=0.3)
    load = asyncio.create_task(client.generate(model="llama3.2"))
    stats = await wait_for_stats(ollama_sim, lambda s: s["in_flight"] == 1)
    assert stats["log"][0]["endpoint"] == "generate" and stats["log"][0]["end"] is None
    assert (await load).done_reason == "load"
    assert ollama_sim.stats()["in_flight"] == 0


async def test_a_sequential_client_never_sees_two_in_flight(client: ollama.AsyncClient, ollama_sim: Simulator) -> None:
    """A request counts as finished before its last bytes leave, so a client that has the whole
    reply and goes straight on to the next request can never overlap with it in the stats."""
    for n in range(10):
        if n % 3 == 0:
            _ = [part async for part in await client.generate(model="tinyllama", prompt=f"{n}", stream=True)]
        elif n % 3 == 1:
            await client.chat(model="tinyllama", messages=[{"role": "user", "content": f"{n}"}], keep_alive=0)
            loaded = {model.model for model in (await client.ps()).models}
            assert "tinyllama:latest" not in loaded  # unloaded before the reply was complete
        else:
            await client.embed(model="nomic-embed-text", input=f"{n}")
        assert ollama_sim.stats()["in_flight"] == 0
    stats = ollama_sim.stats()
    assert stats["max_in_flight"] == 1 and stats["completed"] == 10 + 3  # plus the three ps calls
