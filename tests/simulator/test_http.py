"""The simulator over real HTTP (a subprocess on loopback, plain httpx): Ollama's wire format."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from app.simulator.main import build_parser
from app.simulator.text import reply_tokens
from tests.support.simulator import Simulator, start_simulator

TOKENS = 6


@pytest.fixture(scope="module")
def ollama_sim() -> Iterator[Simulator]:
    with start_simulator(token_delay=0.001, tokens=TOKENS, pull_chunk_delay=0.001) as sim:
        yield sim


@pytest.fixture
def http(ollama_sim: Simulator) -> Iterator[httpx.Client]:
    ollama_sim.reset()
    with httpx.Client(base_url=ollama_sim.base_url, timeout=10) as client:
        yield client


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines()]


def loaded(http: httpx.Client) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in http.get("/api/ps").json()["models"]}


def test_root_version_unknown_route_and_wrong_method(http: httpx.Client) -> None:
    assert http.get("/").text == "Ollama is running"
    assert http.head("/").status_code == 200
    assert http.get("/api/version").json()["version"].count(".") == 2
    missing = http.get("/api/nothing")
    assert (missing.status_code, missing.text) == (404, "404 page not found")
    assert missing.headers["content-type"].startswith("text/plain")
    wrong = http.get("/api/generate")
    assert (wrong.status_code, wrong.text) == (405, "405 method not allowed")


def test_streamed_generate_chunks_and_final_chunk(http: httpx.Client) -> None:
    prompt = "Why is the sky blue?"
    chunks = ndjson(http.post("/api/generate", json={"model": "TinyLlama", "prompt": prompt}))
    *pieces, final = chunks
    assert [chunk["response"] for chunk in pieces] == reply_tokens(prompt, TOKENS)
    assert all(set(chunk) == {"model", "created_at", "response", "done"} for chunk in pieces)
    assert all(chunk["model"] == "TinyLlama" and chunk["done"] is False for chunk in pieces)
    assert final["done"] is True and final["done_reason"] == "stop" and final["response"] == ""
    assert final["eval_count"] == TOKENS and final["prompt_eval_count"] > 0 and final["context"]
    for field in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(final[field], int) and final[field] > 0
    assert final["created_at"].endswith("Z")
    datetime.fromisoformat(final["created_at"])


def test_unstreamed_generate_is_one_json_object_and_num_predict_cuts_it(http: httpx.Client) -> None:
    body = {"model": "tinyllama", "prompt": "hi", "stream": False, "options": {"num_predict": 2}}
    response = http.post("/api/generate", json=body)
    assert response.headers["content-type"].startswith("application/json")
    reply = response.json()
    assert reply["response"] == "".join(reply_tokens("hi", 2))
    assert reply["done_reason"] == "length" and reply["eval_count"] == 2


def test_streamed_chat_puts_text_in_message_and_has_no_context(http: httpx.Client) -> None:
    body = {
        "model": "llama3.2",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    }
    *pieces, final = ndjson(http.post("/api/chat", json=body))
    assert "".join(chunk["message"]["content"] for chunk in pieces) == "".join(reply_tokens("hi", TOKENS))
    assert all(chunk["message"]["role"] == "assistant" for chunk in [*pieces, final])
    assert final["done_reason"] == "stop" and "context" not in final


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/api/generate", None, 404, "model '' not found"),
        ("/api/chat", None, 400, "missing request body"),
        ("/api/embed", None, 400, "missing request body"),
        ("/api/show", None, 400, "missing request body"),
        ("/api/generate", "{not json", 400, None),
        ("/api/generate", "[1, 2]", 400, None),
        ("/api/generate", {"model": "tinyllama", "prompt": 5}, 400, None),
        ("/api/generate", {"model": "bad name!", "prompt": "x"}, 400, "invalid model name"),
        ("/api/chat", {"model": "tinyllama:", "messages": []}, 400, "invalid model name"),
        ("/api/generate", {"model": "llama3", "prompt": "x"}, 404, "model 'llama3' not found"),
        ("/api/chat", {"model": "llama3", "messages": []}, 404, "model 'llama3' not found"),
        ("/api/show", {"model": "llama3"}, 404, "model 'llama3' not found"),
        ("/api/embed", {"model": "llama3", "input": "x"}, 404, 'model "llama3" not found, try pulling it first'),
        ("/api/embeddings", {"model": "llama3", "prompt": "x"}, 404, 'model "llama3" not found, try pulling it first'),
        ("/api/generate", {"model": "nomic-embed-text", "prompt": "x"}, 400,
         '"nomic-embed-text" does not support generate'),
        ("/api/chat", {"model": "nomic-embed-text", "messages": [{"role": "user", "content": "x"}]}, 400,
         '"nomic-embed-text" does not support chat'),
        ("/api/generate", {"model": "tinyllama", "prompt": "x", "keep_alive": "300"}, 400,
         'time: missing unit in duration "300"'),
        ("/api/generate", {"model": "tinyllama", "prompt": "x", "format": "yaml"}, 400,
         'invalid format: expected "json" or a valid JSON schema'),
        ("/api/chat", {"model": "tinyllama", "messages": [{"role": "user", "content": "x"}], "tools": [{}]}, 400,
         '"tinyllama" does not support tools'),
    ],
)  # fmt: skip
def test_errors_are_json_with_ollamas_status_and_message(
    http: httpx.Client, path: str, body: Any, status: int, error: str | None
) -> None:
    content = body if isinstance(body, str) else (None if body is None else json.dumps(body))
    response = http.post(path, content=content)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    if error is not None:
        assert response.json() == {"error": error}


def test_cold_generation_loads_the_model_and_a_warm_one_does_not(http: httpx.Client, ollama_sim: Simulator) -> None:
    ollama_sim.configure(load_delay=0.05)
    body = {"model": "qwen2.5:0.5b", "prompt": "x", "stream": False}
    cold = http.post("/api/generate", json=body).json()
    warm = http.post("/api/generate", json=body).json()
    assert cold["load_duration"] >= 50_000_000 > warm["load_duration"]
    assert ollama_sim.stats()["loads"] == 1


def test_empty_prompt_loads_and_keep_alive_0_unloads(http: httpx.Client) -> None:
    response = http.post("/api/generate", json={"model": "tinyllama", "keep_alive": "1h"})
    assert response.headers["content-type"].startswith("application/json")  # one object, not NDJSON
    assert response.json()["done_reason"] == "load" and response.json()["done"] is True
    model = loaded(http)["tinyllama:latest"]
    assert model["size"] == model["size_vram"] > 0 and model["context_length"] == 4096
    assert datetime.fromisoformat(model["expires_at"]).timestamp() - time.time() > 3000

    unload = http.post("/api/generate", json={"model": "tinyllama", "prompt": "", "keep_alive": 0}).json()
    assert unload["done_reason"] == "unload" and "tinyllama:latest" not in loaded(http)


def test_chat_with_no_messages_loads(http: httpx.Client) -> None:
    reply = http.post("/api/chat", json={"model": "llama3.2", "messages": []}).json()
    assert reply["done_reason"] == "load" and reply["message"] == {"role": "assistant", "content": ""}
    assert "llama3.2:latest" in loaded(http)


def test_keep_alive_is_kept_by_later_requests_and_ps_lists_newest_expiry_first(http: httpx.Client) -> None:
    http.post("/api/generate", json={"model": "tinyllama", "keep_alive": -1})
    http.post("/api/generate", json={"model": "llama3.2", "keep_alive": "10m"})
    http.post("/api/generate", json={"model": "tinyllama", "prompt": "again", "stream": False})  # no keep_alive
    names = [item["name"] for item in http.get("/api/ps").json()["models"]]
    assert names == ["tinyllama:latest", "llama3.2:latest"]
    assert datetime.fromisoformat(loaded(http)["tinyllama:latest"]["expires_at"]).year > 2200


def test_a_generation_with_keep_alive_0_unloads_when_done_and_short_ones_expire(http: httpx.Client) -> None:
    http.post("/api/generate", json={"model": "tinyllama", "prompt": "x", "keep_alive": 0, "stream": False})
    assert loaded(http) == {}
    http.post("/api/generate", json={"model": "tinyllama", "keep_alive": "20ms"})
    deadline = time.monotonic() + 5
    while loaded(http):  # poll for the expiry, bounded by a deadline
        assert time.monotonic() < deadline, "model never expired"
        time.sleep(0.01)


def test_num_ctx_is_the_loaded_context_length(http: httpx.Client, ollama_sim: Simulator) -> None:
    http.post("/api/generate", json={"model": "tinyllama", "options": {"num_ctx": 2048}})
    assert loaded(http)["tinyllama:latest"]["context_length"] == 2048
    http.post("/api/generate", json={"model": "tinyllama", "options": {"num_ctx": 8192}})  # reloads
    assert loaded(http)["tinyllama:latest"]["context_length"] == 8192
    assert ollama_sim.stats()["loads"] == 2


def test_tags_and_show(http: httpx.Client) -> None:
    names = {item["name"] for item in http.get("/api/tags").json()["models"]}
    assert {"tinyllama:latest", "llama3.2:latest", "qwen2.5:0.5b", "nomic-embed-text:latest"} <= names
    shown = http.post("/api/show", json={"model": "TINYLLAMA"}).json()
    assert {"modelfile", "parameters", "template", "details", "model_info", "capabilities", "modified_at"} <= set(shown)
    assert shown["capabilities"] == ["completion"]
    assert http.post("/api/show", json={"model": "nomic-embed-text"}).json()["capabilities"] == ["embedding"]


def test_pull_streams_progress_and_installs_the_model(http: httpx.Client) -> None:
    lines = ndjson(http.post("/api/pull", json={"model": "phi3:mini"}))
    assert lines[0] == {"status": "pulling manifest"}
    assert [line["status"] for line in lines[-3:]] == ["verifying sha256 digest", "writing manifest", "success"]
    layers = [line for line in lines if line["status"].startswith("pulling ") and "digest" in line]
    firsts = {}
    for line in layers:
        assert line["status"] == f"pulling {line['digest'][7:19]}" and line["total"] > 0
        firsts.setdefault(line["digest"], line)
    assert len(firsts) == 4 and all("completed" not in line for line in firsts.values())
    assert max(line.get("completed", 0) for line in layers) == max(line["total"] for line in layers)
    assert "phi3:mini" in {item["name"] for item in http.get("/api/tags").json()["models"]}


def test_pull_of_an_unknown_model_fails_inside_a_200_stream(http: httpx.Client) -> None:
    response = http.post("/api/pull", json={"model": "no-such-model"})
    assert response.status_code == 200
    assert ndjson(response) == [{"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}]
    unstreamed = http.post("/api/pull", json={"model": "no-such-model", "stream": False})
    assert unstreamed.status_code == 500
    assert http.post("/api/pull", json={"model": "bad name!"}).status_code == 400


def test_create_from_a_model_with_an_adapter_then_delete(http: httpx.Client) -> None:
    adapter = b"fake adapter weights"
    digest = f"sha256:{hashlib.sha256(adapter).hexdigest()}"
    assert http.post(f"/api/blobs/{digest}", content=adapter).status_code == 201
    assert http.head(f"/api/blobs/{digest}").status_code == 200
    assert http.post(f"/api/blobs/sha256:{'0' * 64}", content=adapter).status_code == 400

    body = {"model": "support-bot", "from": "tinyllama", "adapters": {"adapter.gguf": digest}, "system": "Be kind."}
    statuses = [line["status"] for line in ndjson(http.post("/api/create", json=body))]
    assert statuses[-2:] == ["writing manifest", "success"] and f"using existing layer {digest}" in statuses
    shown = http.post("/api/show", json={"model": "support-bot"}).json()
    assert shown["adapters"] == {"adapter.gguf": digest} and shown["system"] == "Be kind."
    assert shown["details"]["parent_model"] == "tinyllama:latest" and "ADAPTER" in shown["modelfile"]
    reply = http.post("/api/generate", json={"model": "support-bot", "prompt": "hi", "stream": False}).json()
    assert reply["done"] is True

    deleted = http.request("DELETE", "/api/delete", json={"model": "support-bot"})
    assert (deleted.status_code, deleted.content) == (200, b"")
    again = http.request("DELETE", "/api/delete", json={"model": "support-bot"})
    assert again.status_code == 404 and again.json() == {"error": "model 'support-bot' not found"}


def test_create_needs_an_existing_base_or_files(http: httpx.Client) -> None:
    missing = http.post("/api/create", json={"model": "x", "from": "llama3"})
    assert missing.status_code == 404 and missing.json() == {"error": "model 'llama3' not found"}
    assert http.post("/api/create", json={"model": "x"}).status_code == 400
    unstreamed = http.post(
        "/api/create", json={"model": "x", "files": {"m.gguf": "sha256:" + "1" * 64}, "stream": False}
    )
    assert unstreamed.json() == {"status": "success"}


def test_embed_batch_and_legacy_embeddings(http: httpx.Client) -> None:
    reply = http.post("/api/embed", json={"model": "nomic-embed-text", "input": ["a cat", "a dog"]}).json()
    assert reply["model"] == "nomic-embed-text" and len(reply["embeddings"]) == 2
    assert all(len(vector) == 768 and abs(sum(v * v for v in vector) - 1) < 1e-9 for vector in reply["embeddings"])
    short = http.post("/api/embed", json={"model": "nomic-embed-text", "input": "a cat", "dimensions": 64}).json()
    assert len(short["embeddings"][0]) == 64
    legacy = http.post("/api/embeddings", json={"model": "nomic-embed-text", "prompt": "a cat"}).json()
    assert legacy["embedding"] == reply["embeddings"][0]


def test_drop_closes_the_connection_without_a_response(http: httpx.Client, ollama_sim: Simulator) -> None:
    ollama_sim.fail("drop", 1, endpoints=["embed"])
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        http.post("/api/embed", json={"model": "nomic-embed-text", "input": "x"})
    assert http.post("/api/embed", json={"model": "nomic-embed-text", "input": "x"}).status_code == 200
    outcomes = [entry["outcome"] for entry in ollama_sim.stats()["log"]]
    assert outcomes == ["error", "done"]


_STREAMING_CLIENT = """
import sys, httpx
with httpx.stream("POST", sys.argv[1] + "/api/generate", json={"model": "tinyllama", "prompt": "x"}) as reply:
    for line in reply.iter_lines():
        print(line, flush=True)
"""


def test_a_client_killed_with_sigkill_is_a_disconnect(ollama_sim: Simulator) -> None:
    ollama_sim.reset()
    ollama_sim.configure(token_delay=0.02, tokens=500)
    client = subprocess.Popen([sys.executable, "-c", _STREAMING_CLIENT, ollama_sim.base_url], stdout=subprocess.PIPE)
    try:
        assert client.stdout is not None and client.stdout.readline()  # a token arrived: mid-stream now
        client.kill()  # SIGKILL: no clean close, the kernel ends the connection
    finally:
        client.wait(10)
        if client.stdout is not None:
            client.stdout.close()
    deadline = time.monotonic() + 5
    while ollama_sim.stats()["disconnects"] != 1:  # poll for the outcome, bounded by a deadline
        assert time.monotonic() < deadline, ollama_sim.stats()
        time.sleep(0.01)
    (entry,) = ollama_sim.stats()["log"]
    assert entry["outcome"] == "disconnect" and entry["tokens"] < 100


def test_midstream_failure_on_pull(http: httpx.Client, ollama_sim: Simulator) -> None:
    ollama_sim.fail("midstream", 1, endpoints=["pull"])
    lines = ndjson(http.post("/api/pull", json={"model": "tinyllama"}))
    assert lines[0] == {"status": "pulling manifest"} and "error" in lines[1] and len(lines) == 2


def test_control_surface_validates_and_reset_restores_settings(http: httpx.Client, ollama_sim: Simulator) -> None:
    assert http.post("/_sim/fail", json={"kind": "explode"}).status_code == 400
    assert http.post("/_sim/fail", json={"kind": "busy", "count": 0}).status_code == 400
    assert http.post("/_sim/fail", json={"kind": "busy", "endpoints": ["nope"]}).status_code == 400
    assert http.post("/_sim/config", json={"tokens": -1}).status_code == 400
    pending = ollama_sim.fail("busy", 2)["pending"]
    assert pending == [{"kind": "busy", "remaining": 2, "endpoints": ["generate", "chat", "embed", "embeddings"]}]
    assert ollama_sim.configure(tokens=3)["tokens"] == 3
    assert http.get("/_sim/config").json()["tokens"] == 3
    ollama_sim.reset()
    stats = ollama_sim.stats()
    assert stats["config"]["tokens"] == TOKENS and stats["pending_failures"] == []
    assert stats["total_requests"] == 0 and set(stats["requests"]) >= {"generate", "chat", "embed", "pull"}


def test_stats_log_entries(http: httpx.Client, ollama_sim: Simulator) -> None:
    before = time.time()
    http.post("/api/generate", json={"model": "tinyllama", "prompt": "log me", "stream": False})
    http.get("/api/tags")
    stats = ollama_sim.stats()
    generate, tags = stats["log"]
    assert generate["endpoint"] == "generate" and generate["model"] == "tinyllama" and generate["prompt"] == "log me"
    assert before <= generate["start"] <= generate["end"] <= time.time() and generate["outcome"] == "done"
    assert generate["tokens"] == TOKENS and tags["model"] is None
    assert stats["requests"]["generate"] == 1 and stats["total_requests"] == 2 and stats["completed"] == 2
    assert stats["in_flight"] == 0 and stats["max_in_flight"] == 1  # tags is not GPU work


def test_help_describes_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--token-delay", "--tokens", "--load-delay", "--pull-chunk-delay"):
        assert option in out


def _raw_generate(base_url: str, prompt: str) -> socket.socket:
    """A streamed generate request sent over a plain socket (the reply is left unread)."""
    host, port = base_url.removeprefix("http://").split(":")
    body = json.dumps({"model": "tinyllama", "prompt": prompt}).encode()
    head = f"POST /api/generate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    connection = socket.create_connection((host, int(port)))
    connection.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return connection


def test_a_request_whose_client_left_before_the_next_arrived_is_not_in_flight_with_it(
    ollama_sim: Simulator,
) -> None:
    """A client that closes one generation and then sends the next never has two in flight, however
    the stand-in's event loop orders the two: here both reach it in the same instant (the stand-in is
    stopped while the first is closed and the second is sent), which is what a processor does when it
    stops a request and hands the slot on at once."""
    ollama_sim.reset()
    ollama_sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    first = _raw_generate(ollama_sim.base_url, "first")
    ollama_sim.wait_held(1)
    os.kill(ollama_sim.process.pid, signal.SIGSTOP)
    try:
        first.close()
        second = _raw_generate(ollama_sim.base_url, "second")
    finally:
        os.kill(ollama_sim.process.pid, signal.SIGCONT)
    with second:
        second.settimeout(10)
        reply = b""
        while b'"done":true' not in reply:
            chunk = second.recv(65536)
            assert chunk, reply
            reply += chunk
    stats = ollama_sim.stats()
    assert stats["max_in_flight"] == 1 and stats["disconnects"] == 1 and stats["completed"] == 1
