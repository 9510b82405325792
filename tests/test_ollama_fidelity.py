"""The same wire-format checks against the simulator and, when OLLAMA_BASE_URL points at one, a real
Ollama: on a machine with Ollama this proves the stand-in behaves like the real thing where aijobs
relies on it. Without OLLAMA_BASE_URL (or when it does not answer) the real-Ollama cases are skipped.
OLLAMA_TEST_MODEL (default tinyllama) and OLLAMA_TEST_EMBED_MODEL (default nomic-embed-text) must be
pulled there."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.simulator import Simulator

RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
MODEL = os.environ.get("OLLAMA_TEST_MODEL", "tinyllama")
EMBED_MODEL = os.environ.get("OLLAMA_TEST_EMBED_MODEL", "nomic-embed-text")


def _real_ollama() -> str | None:
    url = os.environ.get("OLLAMA_BASE_URL")
    if not url:
        return None
    try:
        httpx.get(f"{url}/api/version", timeout=3).raise_for_status()
    except httpx.HTTPError:
        return None
    return url


@pytest.fixture(params=["simulator", "real Ollama"])
def ollama(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    if request.param == "simulator":
        sim: Simulator = request.getfixturevalue("sim")
        url = sim.base_url
    else:
        real = _real_ollama()
        if real is None:
            pytest.skip("no real Ollama: set OLLAMA_BASE_URL to run these against one")
        url = real
    with httpx.Client(base_url=url, timeout=120) as client:
        installed = {m["name"] for m in client.get("/api/tags").json()["models"]}
        missing = [m for m in (MODEL, EMBED_MODEL) if m not in installed and f"{m}:latest" not in installed]
        if missing:
            pytest.skip(f"{request.param} lacks {missing}: `ollama pull` them first")
        yield client


def test_version_and_tags(ollama: httpx.Client) -> None:
    assert isinstance(ollama.get("/api/version").json()["version"], str)
    for entry in ollama.get("/api/tags").json()["models"]:
        assert {"name", "model", "modified_at", "size", "digest", "details"} <= entry.keys()
        assert isinstance(entry["size"], int) and isinstance(entry["details"], dict)


def test_generate_answers_with_integer_durations_and_a_done_reason(ollama: httpx.Client) -> None:
    body = {"model": MODEL, "prompt": "Say hello.", "stream": False, "options": {"num_predict": 8}}
    reply = ollama.post("/api/generate", json=body)
    assert reply.status_code == 200
    data = reply.json()
    assert RFC3339_Z.match(data["created_at"]) and data["done"] is True
    assert data["done_reason"] in {"stop", "length"} and isinstance(data["response"], str)
    for field in ("total_duration", "load_duration", "eval_duration"):
        assert isinstance(data[field], int)
    assert 0 < data["eval_count"] <= 8


def test_a_stream_is_ndjson_ending_in_one_done_chunk(ollama: httpx.Client) -> None:
    body = {"model": MODEL, "prompt": "Count to three.", "options": {"num_predict": 12}}
    with ollama.stream("POST", "/api/generate", json=body) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "application/x-ndjson"
        chunks = [json.loads(line) for line in reply.iter_lines() if line]
    assert [chunk["done"] for chunk in chunks] == [False] * (len(chunks) - 1) + [True]
    assert all("response" in chunk for chunk in chunks)
    assert isinstance(chunks[-1]["total_duration"], int)


def test_chat_and_batch_embed(ollama: httpx.Client) -> None:
    chat = ollama.post(
        "/api/chat",
        json={
            "model": MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "stream": False,
            "options": {"num_predict": 8},
        },
    ).json()
    assert chat["message"]["role"] == "assistant" and chat["done"] is True
    embedded = ollama.post("/api/embed", json={"model": EMBED_MODEL, "input": ["a", "b"]}).json()
    vectors = embedded["embeddings"]
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) > 0
    assert all(isinstance(value, float) for value in vectors[0][:8])


def test_an_unknown_model_is_404_with_an_error(ollama: httpx.Client) -> None:
    reply = ollama.post("/api/generate", json={"model": "no-such-model-aijobs", "prompt": "x", "stream": False})
    assert reply.status_code == 404 and isinstance(reply.json()["error"], str)
    embed = ollama.post("/api/embed", json={"model": "no-such-model-aijobs", "input": "x"})
    assert embed.status_code == 404


def test_keep_alive_zero_unloads_and_ps_shows_it(ollama: httpx.Client) -> None:
    ollama.post("/api/generate", json={"model": MODEL, "prompt": "", "stream": False}).raise_for_status()
    loaded = {m["name"] for m in ollama.get("/api/ps").json()["models"]}
    assert MODEL in loaded or f"{MODEL}:latest" in loaded
    unload = ollama.post("/api/generate", json={"model": MODEL, "keep_alive": 0, "stream": False}).json()
    assert unload["done_reason"] == "unload"
    loaded = {m["name"] for m in ollama.get("/api/ps").json()["models"]}
    assert MODEL not in loaded and f"{MODEL}:latest" not in loaded
