"""Model management with Ollama's shapes, over real HTTP: copy, push, delete, blobs, the older
embeddings endpoint, and the root."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import pytest

from tests.support.simulator import Simulator, start_simulator


@pytest.fixture(scope="module")
def ollama_sim() -> Iterator[Simulator]:
    with start_simulator(token_delay=0.001, tokens=4, pull_chunk_delay=0.001) as sim:
        yield sim


@pytest.fixture
def http(ollama_sim: Simulator) -> Iterator[httpx.Client]:
    ollama_sim.reset()
    with httpx.Client(base_url=ollama_sim.base_url, timeout=10) as client:
        yield client


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines()]


def tags(http: httpx.Client) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in http.get("/api/tags").json()["models"]}


def test_copy_gives_a_second_name_with_the_same_manifest_then_delete_removes_only_it(http: httpx.Client) -> None:
    copied = http.post("/api/copy", json={"source": "TinyLlama", "destination": "team/helper:v1"})
    assert (copied.status_code, copied.content) == (200, b"")
    models = tags(http)
    assert models["team/helper:v1"]["digest"] == models["tinyllama:latest"]["digest"]
    assert models["team/helper:v1"]["size"] == models["tinyllama:latest"]["size"]
    reply = http.post("/api/generate", json={"model": "team/helper:v1", "prompt": "hi", "stream": False})
    assert reply.json()["model"] == "team/helper:v1"

    deleted = http.request("DELETE", "/api/delete", json={"model": "team/helper:v1"})
    assert (deleted.status_code, deleted.content) == (200, b"")
    assert "team/helper:v1" not in tags(http) and "tinyllama:latest" in tags(http)
    gone = http.post("/api/copy", json={"source": "team/helper:v1", "destination": "again"})
    assert gone.status_code == 404 and gone.json() == {"error": 'model "team/helper:v1" not found'}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"source": "bad name!", "destination": "x"}, 400, 'source "bad name!" is invalid'),
        ({"source": "tinyllama", "destination": "x:"}, 400, 'destination "x:" is invalid'),
        ({"destination": "x"}, 400, 'source "" is invalid'),
        ({"source": "llama3", "destination": "x"}, 404, 'model "llama3" not found'),
    ],
)
def test_copy_errors(http: httpx.Client, body: dict[str, str], status: int, error: str) -> None:
    response = http.post("/api/copy", json=body)
    assert response.status_code == status and response.json() == {"error": error}


def test_delete_errors(http: httpx.Client) -> None:
    invalid = http.request("DELETE", "/api/delete", json={"model": "bad name!"})
    assert invalid.status_code == 400 and invalid.json() == {"error": 'name "bad name!" is invalid'}
    missing = http.request("DELETE", "/api/delete", json={"model": "llama3"})
    assert missing.status_code == 404 and missing.json() == {"error": "model 'llama3' not found"}
    assert http.request("DELETE", "/api/delete").status_code == 400  # no body


def test_push_streams_layer_uploads_and_succeeds(http: httpx.Client) -> None:
    lines = ndjson(http.post("/api/push", json={"model": "tinyllama"}))
    assert lines[0] == {"status": "retrieving manifest"}
    assert lines[-2:] == [{"status": "pushing manifest"}, {"status": "success"}]
    uploads = lines[1:-2]
    assert uploads and all(line["status"] == f"pushing {line['digest'][7:19]}" for line in uploads)
    digests = {line["digest"] for line in uploads}
    assert len(digests) == 4
    for digest in digests:
        progress = [line for line in uploads if line["digest"] == digest]
        assert "completed" not in progress[0] and progress[-1]["completed"] == progress[-1]["total"]
    assert http.post("/api/push", json={"model": "tinyllama", "stream": False}).json() == {"status": "success"}


def test_push_of_an_unknown_model_fails_inside_the_stream(http: httpx.Client) -> None:
    response = http.post("/api/push", json={"model": "myuser/nothing"})
    lines = ndjson(response)
    assert response.status_code == 200 and lines[:2] == [
        {"status": "retrieving manifest"},
        {"status": "couldn't retrieve manifest"},
    ]
    assert lines[2]["error"].endswith("manifests/registry.ollama.ai/myuser/nothing/latest: no such file or directory")
    assert http.post("/api/push", json={"model": "myuser/nothing", "stream": False}).status_code == 500
    assert http.post("/api/push", json={"model": "bad name!"}).status_code == 400
    assert http.post("/api/push", json={}).status_code == 400


def test_blobs_are_checked_against_the_digest_as_written(http: httpx.Client) -> None:
    content = b"adapter weights"
    hexdigest = hashlib.sha256(content).hexdigest()
    assert http.head(f"/api/blobs/sha256:{hexdigest}").status_code == 404
    assert http.post(f"/api/blobs/sha256:{hexdigest}", content=content).status_code == 201
    assert http.post(f"/api/blobs/sha256:{hexdigest}", content=content).status_code == 200  # there already
    assert http.head(f"/api/blobs/sha256-{hexdigest}").status_code == 200  # the file name's spelling
    other = b"other weights"
    upper = f"sha256:{hashlib.sha256(other).hexdigest().upper()}"
    mismatch = http.post(f"/api/blobs/{upper}", content=other)
    expected = f'digest mismatch, expected "{upper}", got "sha256:{hashlib.sha256(other).hexdigest()}"'
    assert mismatch.status_code == 400 and mismatch.json() == {"error": expected}
    invalid = http.post("/api/blobs/sha256:abc", content=other)
    assert invalid.status_code == 400 and invalid.json() == {"error": "invalid digest format"}


def test_the_older_embeddings_endpoint(http: httpx.Client) -> None:
    loaded = http.post("/api/embeddings", json={"model": "nomic-embed-text", "prompt": ""})
    assert loaded.json() == {"embedding": []}
    assert "nomic-embed-text:latest" in {item["name"] for item in http.get("/api/ps").json()["models"]}
    vector = http.post("/api/embeddings", json={"model": "nomic-embed-text", "prompt": "a cat"}).json()["embedding"]
    assert len(vector) == 768 and abs(sum(value * value for value in vector) - 1) < 1e-9
    invalid = http.post("/api/embeddings", json={"model": "bad name!", "prompt": "x"})
    assert invalid.status_code == 400 and invalid.json() == {"error": "model is required"}
    missing = http.post("/api/embeddings", json={"model": "llama3", "prompt": "x"})
    assert missing.status_code == 404 and missing.json() == {"error": 'model "llama3" not found, try pulling it first'}


def test_root_and_version(http: httpx.Client) -> None:
    root = http.get("/")
    assert (root.status_code, root.text) == (200, "Ollama is running")
    assert root.headers["content-type"].startswith("text/plain")
    assert http.head("/").status_code == 200
    assert http.get("/api/version").json() == {"version": "0.12.6"}


def test_chat_final_chunk_carries_ollamas_timings_and_no_context(http: httpx.Client) -> None:
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
    *pieces, final = ndjson(http.post("/api/chat", json=body))
    timing_fields = {"total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count"}
    timing_fields.add("eval_duration")
    assert all(not timing_fields & set(piece) for piece in pieces)  # left out while zero
    assert all(isinstance(final[field], int) and final[field] > 0 for field in timing_fields)
    assert "context" not in final and final["eval_count"] == len(pieces)


async def test_the_official_client_copies_and_pushes(ollama_sim: Simulator) -> None:
    ollama_sim.reset()
    client = ollama.AsyncClient(host=ollama_sim.base_url, timeout=10)
    try:
        assert (await client.copy("llama3.2", "llama-copy")).status == "success"
        assert (await client.push("llama-copy")).status == "success"
        statuses = [part.status async for part in await client.push("llama-copy", stream=True)]
        assert statuses[0] == "retrieving manifest" and statuses[-1] == "success"
        assert (await client.delete("llama-copy")).status == "success"
        with pytest.raises(ollama.ResponseError) as caught:
            await client.copy("llama-copy", "other")
        assert caught.value.status_code == 404
    finally:
        await client.close()
