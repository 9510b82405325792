"""The drop-in OpenAI front, driven by the official `openai` client, unmodified."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import openai
import pytest

from tests.support.api import Api
from tests.support.simulator import Simulator


@pytest.fixture
async def client(api: Api) -> AsyncIterator[Callable[..., openai.AsyncOpenAI]]:
    """An unmodified OpenAI client pointed at aijobs/v1, with alice's key (or `key`)."""
    made: list[openai.AsyncOpenAI] = []

    def make(key: str | None = None) -> openai.AsyncOpenAI:
        made.append(
            openai.AsyncOpenAI(base_url=f"{api.base_url}/v1", api_key=key or api.tokens["alice"], max_retries=0)
        )
        return made[-1]

    yield make
    for each in made:
        await each.close()


async def test_chat_completion_not_streamed(client: Callable, sim: Simulator) -> None:
    reply = await client().chat.completions.create(
        model="tinyllama", messages=[{"role": "user", "content": "Why is the sky blue?"}], max_tokens=5
    )
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "length" and reply.usage is not None and reply.usage.completion_tokens == 5


async def test_chat_completion_streamed_as_server_sent_events(client: Callable, sim: Simulator) -> None:
    stream = await client().chat.completions.create(
        model="tinyllama", messages=[{"role": "user", "content": "Hello"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text and chunks[-1].choices[0].finish_reason == "stop"
    assert sim.stats()["requests"]["chat"] == 1


async def test_embeddings_and_models(client: Callable) -> None:
    oa = client()
    vectors = await oa.embeddings.create(model="nomic-embed-text", input=["a", "b"])
    assert [item.index for item in vectors.data] == [0, 1] and len(vectors.data[0].embedding) > 0
    names = [model.id async for model in oa.models.list()]
    assert "tinyllama:latest" in names


async def test_bad_key_and_unknown_model_are_errors_the_client_raises(client: Callable) -> None:
    bad = client("aij_wrong")
    try:
        await bad.models.list()
        raise AssertionError("a bad key must be refused")
    except openai.AuthenticationError as error:
        assert error.status_code == 401
    try:
        await client().chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
        raise AssertionError("an unknown model must be an error")
    except openai.NotFoundError as error:
        assert "not found" in str(error)


async def test_a_queued_stream_gets_headers_and_keep_alives_with_its_position(
    start_api: Callable[..., Api], sim: Simulator
) -> None:
    api = start_api(STREAM_KEEPALIVE_SECONDS="0.2")
    sim.hold(endpoints=["chat"], after_tokens=1)
    headers = {"Authorization": f"Bearer {api.tokens['bob']}"}
    body = {"model": "tinyllama", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    async with httpx.AsyncClient(base_url=f"{api.base_url}/v1", headers=headers, timeout=30) as http:
        async with http.stream("POST", "/chat/completions", json=body) as first:
            await asyncio.to_thread(sim.wait_held, 1)  # bob's job holds the GPU
            alice = {"Authorization": f"Bearer {api.tokens['alice']}"}
            async with http.stream("POST", "/chat/completions", json=body, headers=alice) as queued:
                assert queued.status_code == 200 and queued.headers["content-type"].startswith("text/event-stream")
                lines = queued.aiter_lines()
                assert await anext(lines) == ": queued, position 0"  # no job ahead of hers, one running
                assert await anext(lines) == ""
                assert await anext(lines) == ": queued, position 0"  # again, while she waits
                sim.release()
                rest = [line async for line in lines if line.startswith("data: ")]
            assert rest[-1] == "data: [DONE]" and '"finish_reason": "stop"' in rest[-2]
            assert [line async for line in first.aiter_lines()][-2] == "data: [DONE]"


def test_bad_input_names_the_field_in_openais_error_shape(api: Api) -> None:
    alice = api.as_("alice")
    empty = alice.post("/v1/chat/completions", json={"model": "tinyllama", "messages": []})
    assert empty.status_code == 400
    assert empty.json() == {
        "error": {
            "message": "[] is too short - 'messages'",
            "type": "invalid_request_error",
            "param": "messages",
            "code": None,
        }
    }
    remote = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    image = alice.post(
        "/v1/chat/completions", json={"model": "gemma3:4b", "messages": [{"role": "user", "content": [remote]}]}
    )
    assert image.status_code == 400 and "base64" in image.json()["error"]["message"]
    unauthorized = httpx.get(f"{api.base_url}/v1/models")
    assert unauthorized.status_code == 401 and unauthorized.json()["error"]["code"] == "invalid_api_key"
