"""The same wire-format checks against the simulator and, when OLLAMA_BASE_URL points at one, a real
Ollama: on a machine with Ollama this proves the stand-in behaves like the real thing where aijobs
relies on it. Without OLLAMA_BASE_URL (or when it does not answer) the real-Ollama cases are skipped.
OLLAMA_TEST_MODEL (default tinyllama) and OLLAMA_TEST_EMBED_MODEL (default nomic-embed-text) must be
pulled there. Cases that need a capability use OLLAMA_TEST_TOOLS_MODEL and OLLAMA_TEST_THINKING_MODEL
(default qwen3:0.6b, which has both) and are skipped where that model is not pulled."""

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
TOOLS_MODEL = os.environ.get("OLLAMA_TEST_TOOLS_MODEL", "qwen3:0.6b")
THINKING_MODEL = os.environ.get("OLLAMA_TEST_THINKING_MODEL", "qwen3:0.6b")
TIMING_FIELDS = ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count")
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The name of the city"}},
            "required": ["city"],
        },
    },
}
ASK_WEATHER = {"role": "user", "content": "What is the weather in Paris right now? Use the get_weather tool."}
COPY_NAME = "aijobs-fidelity-copy:latest"


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


def _installed(ollama: httpx.Client, model: str) -> None:
    """Skip the case where `model` is not pulled (a real Ollama may lack the capability models)."""
    names = {m["name"] for m in ollama.get("/api/tags").json()["models"]}
    if model not in names and f"{model}:latest" not in names:
        pytest.skip(f"{model} is not pulled: `ollama pull {model}` to run this case")


def test_root_says_ollama_is_running(ollama: httpx.Client) -> None:
    root = ollama.get("/")
    assert (root.status_code, root.text) == (200, "Ollama is running")
    assert root.headers["content-type"].startswith("text/plain")
    assert ollama.head("/").status_code == 200


def test_final_chunks_carry_the_timings_and_generate_a_context(ollama: httpx.Client) -> None:
    body = {"model": MODEL, "prompt": "Say hello.", "options": {"num_predict": 8}}
    with ollama.stream("POST", "/api/generate", json=body) as reply:
        *pieces, final = [json.loads(line) for line in reply.iter_lines() if line]
    assert all(not set(TIMING_FIELDS) & set(piece) for piece in pieces)  # zero, so left out
    for field in (*TIMING_FIELDS, "eval_duration"):
        assert isinstance(final[field], int) and final[field] > 0
    assert final["context"] and all(isinstance(token, int) for token in final["context"])
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "options": {"num_predict": 8}}
    with ollama.stream("POST", "/api/chat", json=chat) as reply:
        final = [json.loads(line) for line in reply.iter_lines() if line][-1]
    assert "context" not in final and all(isinstance(final[field], int) for field in TIMING_FIELDS)


def test_show_lists_capabilities_and_the_context_length(ollama: httpx.Client) -> None:
    shown = ollama.post("/api/show", json={"model": MODEL}).json()
    assert "completion" in shown["capabilities"]
    info = shown["model_info"]
    assert isinstance(info[f"{info['general.architecture']}.context_length"], int)
    assert "embedding" in ollama.post("/api/show", json={"model": EMBED_MODEL}).json()["capabilities"]


def test_show_lists_tools_and_thinking(ollama: httpx.Client) -> None:
    _installed(ollama, TOOLS_MODEL)
    _installed(ollama, THINKING_MODEL)
    assert "tools" in ollama.post("/api/show", json={"model": TOOLS_MODEL}).json()["capabilities"]
    assert "thinking" in ollama.post("/api/show", json={"model": THINKING_MODEL}).json()["capabilities"]


def _check_call(calls: list[dict[str, object]]) -> None:
    (call,) = calls
    function = call["function"]
    assert isinstance(function, dict) and function["name"] == "get_weather"
    assert isinstance(function["arguments"], dict) and isinstance(function["arguments"].get("city"), str)


def test_a_tool_call_is_an_object_with_empty_content(ollama: httpx.Client) -> None:
    _installed(ollama, TOOLS_MODEL)
    body = {"model": TOOLS_MODEL, "messages": [ASK_WEATHER], "tools": [WEATHER_TOOL], "think": False}
    reply = ollama.post("/api/chat", json={**body, "stream": False, "options": {"temperature": 0, "seed": 1}}).json()
    assert reply["done"] is True and reply["done_reason"] == "stop" and reply["message"]["content"] == ""
    _check_call(reply["message"]["tool_calls"])


def test_a_streamed_tool_call_arrives_whole_before_the_done_chunk(ollama: httpx.Client) -> None:
    _installed(ollama, TOOLS_MODEL)
    body = {"model": TOOLS_MODEL, "messages": [ASK_WEATHER], "tools": [WEATHER_TOOL], "think": False}
    with ollama.stream("POST", "/api/chat", json={**body, "options": {"temperature": 0, "seed": 1}}) as reply:
        chunks = [json.loads(line) for line in reply.iter_lines() if line]
    calls = [chunk for chunk in chunks if chunk["message"].get("tool_calls")]
    assert len(calls) == 1 and calls[0]["done"] is False
    _check_call(calls[0]["message"]["tool_calls"])
    assert chunks[-1]["done"] is True and chunks[-1]["done_reason"] == "stop"


def test_thinking_comes_in_its_own_field_before_the_answer(ollama: httpx.Client) -> None:
    _installed(ollama, THINKING_MODEL)
    chat = {"model": THINKING_MODEL, "messages": [{"role": "user", "content": "What is 2 + 3?"}], "think": True}
    with ollama.stream("POST", "/api/chat", json=chat) as reply:
        pieces = [json.loads(line) for line in reply.iter_lines() if line][:-1]
    thinking = [index for index, piece in enumerate(pieces) if piece["message"].get("thinking")]
    answering = [index for index, piece in enumerate(pieces) if piece["message"]["content"]]
    assert thinking and answering and max(thinking) < min(answering)
    body = {"model": THINKING_MODEL, "prompt": "What is 2 + 3?", "think": True, "stream": False}
    generated = ollama.post("/api/generate", json=body).json()
    assert isinstance(generated["thinking"], str) and generated["thinking"] and isinstance(generated["response"], str)
    unthinking = ollama.post("/api/generate", json={**body, "think": False}).json()
    assert "thinking" not in unthinking


def test_copy_then_delete_round_trip(ollama: httpx.Client) -> None:
    copied = ollama.post("/api/copy", json={"source": MODEL, "destination": COPY_NAME})
    assert (copied.status_code, copied.content) == (200, b"")
    try:
        models = {m["name"]: m for m in ollama.get("/api/tags").json()["models"]}
        source = models.get(MODEL) or models[f"{MODEL}:latest"]
        assert models[COPY_NAME]["digest"] == source["digest"]
    finally:
        deleted = ollama.request("DELETE", "/api/delete", json={"model": COPY_NAME})
    assert (deleted.status_code, deleted.content) == (200, b"")
    again = ollama.request("DELETE", "/api/delete", json={"model": COPY_NAME})
    assert again.status_code == 404 and isinstance(again.json()["error"], str)
    missing = ollama.post("/api/copy", json={"source": "no-such-model-aijobs", "destination": COPY_NAME})
    assert missing.status_code == 404


# ---- the drop-in fronts against Ollama itself ---------------------------------------------------------
# The same requests to aijobs (its /api/* and /v1/* fronts, in front of the simulator) and to a real
# Ollama (its native API and its own OpenAI-compatible layer): what a client sees must match.


@pytest.fixture(params=["aijobs", "real Ollama"])
def front(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    if request.param == "aijobs":
        api = request.getfixturevalue("api")
        url, headers = api.base_url, {"Authorization": f"Bearer {api.tokens['alice']}"}
    else:
        real = _real_ollama()
        if real is None:
            pytest.skip("no real Ollama: set OLLAMA_BASE_URL to run these against one")
        url, headers = real, {}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        yield client


def test_front_final_chunks_and_the_legacy_embedding(front: httpx.Client) -> None:
    body = {"model": MODEL, "prompt": "Say hello.", "stream": False, "options": {"num_predict": 8}}
    final = front.post("/api/generate", json=body).json()
    for field in (*TIMING_FIELDS, "eval_duration"):
        assert isinstance(final[field], int) and final[field] > 0
    assert final["context"] and final["done_reason"] in {"stop", "length"}
    legacy = front.post("/api/embeddings", json={"model": EMBED_MODEL, "prompt": "hello"}).json()
    assert set(legacy) == {"embedding"} and len(legacy["embedding"]) > 0


def test_front_tool_calls_in_both_apis(front: httpx.Client) -> None:
    _installed(front, TOOLS_MODEL)
    body = {"model": TOOLS_MODEL, "messages": [ASK_WEATHER], "tools": [WEATHER_TOOL], "think": False, "stream": False}
    native = front.post("/api/chat", json={**body, "options": {"temperature": 0, "seed": 1}}).json()
    _check_call(native["message"]["tool_calls"])
    compat = {"model": TOOLS_MODEL, "messages": [ASK_WEATHER], "tools": [WEATHER_TOOL], "reasoning_effort": "none"}
    choice = front.post("/v1/chat/completions", json=compat).json()["choices"][0]
    (call,) = choice["message"]["tool_calls"]
    assert choice["finish_reason"] == "tool_calls" and call["type"] == "function" and call["id"]
    assert isinstance(json.loads(call["function"]["arguments"])["city"], str)


def test_front_stream_usage_chunk(front: httpx.Client) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 8,
    }
    with front.stream("POST", "/v1/chat/completions", json=body) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        data = [line.removeprefix("data: ") for line in reply.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    usage, finish = json.loads(data[-2]), json.loads(data[-3])
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0
    assert finish["choices"][0]["delta"] == {} and finish["choices"][0]["finish_reason"] in {"stop", "length"}


def test_front_embeddings_as_base64_and_token_arrays(front: httpx.Client) -> None:
    import base64
    import struct

    body = {"model": EMBED_MODEL, "input": "hello"}
    floats = front.post("/v1/embeddings", json={**body, "encoding_format": "float"}).json()["data"][0]["embedding"]
    packed = front.post("/v1/embeddings", json={**body, "encoding_format": "base64"}).json()["data"][0]["embedding"]
    raw = base64.b64decode(packed)
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == pytest.approx(floats, abs=1e-6)
    refused = front.post("/v1/embeddings", json={**body, "input": [[1, 2, 3]]})
    assert refused.status_code == 400 and refused.json()["error"]["message"] == "invalid input type"


def test_front_model_retrieval_and_errors(front: httpx.Client) -> None:
    model = front.get(f"/v1/models/{EMBED_MODEL}").json()
    assert model["id"] == EMBED_MODEL and model["object"] == "model" and model["owned_by"] == "library"
    missing = front.get("/v1/models/no-such-model-aijobs")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    chat = front.post("/v1/chat/completions", json={"model": "no-such-model-aijobs", "messages": [ASK_WEATHER]})
    assert chat.status_code == 404 and isinstance(chat.json()["error"]["message"], str)
    native = front.post("/api/chat", json={"model": "no-such-model-aijobs", "messages": [ASK_WEATHER]})
    assert native.status_code == 404 and isinstance(native.json()["error"], str)
    assert front.get("/").text == "Ollama is running"
