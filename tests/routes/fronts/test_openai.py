"""The drop-in OpenAI front, driven by the official `openai` client, unmodified."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

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
