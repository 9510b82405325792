"""The drop-in Ollama front, driven by the official `ollama` client, unmodified."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import ollama
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.queue.processor import EARLY_START_STOPPED
from tests.support.api import Api
from tests.support.jobs import TERMINAL, leases_held
from tests.support.simulator import Simulator, start_simulator
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

    logged = len(api.server.output())
    answers = await asyncio.gather(*(ask(who, n) for n, who in enumerate(["alice", "bob"] * 3)))
    assert all(answers)
    stats = sim.stats()
    outcomes = [entry["outcome"] for entry in stats["log"] if entry["endpoint"] == "generate"]
    assert outcomes.count("done") == 6 and stats["max_in_flight"] == 1
    # Beyond the six: only an early start stopped because a fairer job came as the one before ended.
    stopped = api.server.output()[logged:].count(EARLY_START_STOPPED)
    assert len(outcomes) == 6 + stopped == 6 + outcomes.count("disconnect")


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


def post(api: Api, path: str, body: object, who: str = "alice", **headers: str) -> httpx.Response:
    """A JSON body sent as `curl -d` sends it: form-encoded Content-Type (or whatever `headers` say)."""
    sent = {"Authorization": f"Bearer {api.tokens[who]}", "Content-Type": "application/x-www-form-urlencoded"}
    return httpx.post(f"{api.base_url}{path}", content=json.dumps(body), headers={**sent, **headers}, timeout=30)


def test_a_json_body_is_read_whatever_its_content_type(api: Api, sim: Simulator) -> None:
    body = {"model": "tinyllama", "prompt": "Hi", "stream": False, "format": ""}  # format "": LangChain's OllamaLLM
    for content_type in ("application/x-www-form-urlencoded", "text/plain"):
        reply = post(api, "/api/generate", body, **{"Content-Type": content_type})
        assert reply.status_code == 200 and reply.json()["response"]
    sent = httpx.post(
        f"{api.base_url}/api/generate",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {api.tokens['alice']}"},
    )
    assert sent.status_code == 200  # no Content-Type at all, as LiteLLM's Ollama providers send
    assert "format" not in sim.stats()["log"][-1].get("body", {})  # "" meant no format


def test_bad_input_is_a_400_naming_the_field_in_ollamas_shape(api: Api, sim: Simulator) -> None:
    reply = post(api, "/api/chat", {"model": "tinyllama", "messages": [{"role": "robot", "content": "x"}]})
    assert reply.status_code == 400 and "messages.0.role" in reply.json()["error"]
    listed = post(api, "/api/chat", [1, 2])
    assert listed.status_code == 400 and listed.json() == {"error": "body: Input should be a valid dictionary"}
    unknown = post(api, "/api/generate", {"model": "tinyllama", "prompt": "x", "stream": False, "shift": True})
    assert unknown.status_code == 200  # fields Ollama does not know are ignored, as Ollama does
    assert sim.stats()["requests"].get("chat", 0) == 0  # nothing bad was queued


async def test_a_streamed_request_gets_its_headers_while_it_waits_in_the_queue(
    api: Api, sim: Simulator, engine: AsyncEngine
) -> None:
    sim.hold(endpoints=["generate"], after_tokens=1)
    headers = {"Authorization": f"Bearer {api.tokens['bob']}"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=headers, timeout=30) as http:
        holder = asyncio.create_task(http.post("/api/generate", json={"model": "tinyllama", "prompt": "long"}))
        await asyncio.to_thread(sim.wait_held, 1)
        alice = {"Authorization": f"Bearer {api.tokens['alice']}"}
        async with http.stream(
            "POST", "/api/chat", json={"model": "tinyllama", "messages": HI}, headers=alice
        ) as reply:
            # The GPU is busy with bob's job: alice's is queued, and her headers are here already.
            assert reply.status_code == 200 and reply.headers["content-type"] == "application/x-ndjson"
            sim.release()
            chunks = [json.loads(line) async for line in reply.aiter_lines() if line]
        assert chunks[-1]["done"] is True and (await holder).status_code == 200


def test_show_tags_and_the_root_answer_like_ollama(api: Api) -> None:
    alice = api.as_("alice")
    shown = alice.post("/api/show", json={"model": "qwen3:0.6b"}).json()
    assert "tools" in shown["capabilities"] and shown["model_info"]
    missing = alice.post("/api/show", json={"model": "no-such-model"})
    assert missing.status_code == 404 and "not found" in missing.json()["error"]
    root = httpx.get(f"{api.base_url}/")
    assert (root.status_code, root.text) == (200, "Ollama is running")  # no token needed, as for Ollama
    assert httpx.head(f"{api.base_url}/").status_code == 200
    page = httpx.get(f"{api.base_url}/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and "<html" in page.text.lower()  # a browser still gets the page


def test_model_management_is_for_admins_and_runs_as_jobs(api: Api, sim: Simulator) -> None:
    assert post(api, "/api/copy", {"source": "tinyllama", "destination": "mine"}).status_code == 403
    assert post(api, "/api/pull", {"model": "tinyllama"}).json() == {
        "error": "Managing Ollama's models needs an admin."
    }
    sim.configure(pull_chunk_delay=0.005)
    with httpx.stream(
        "POST",
        f"{api.base_url}/api/pull",
        json={"model": "tinyllama"},
        headers={"Authorization": f"Bearer {api.tokens['admin']}"},
        timeout=30,
    ) as reply:
        lines = [json.loads(line) for line in reply.iter_lines() if line]
    assert lines[-1] == {"status": "success"}
    assert any(line.get("digest", "").startswith("sha256:") and line["total"] > 0 for line in lines)
    copied = post(api, "/api/copy", {"source": "tinyllama", "destination": "tinycopy"}, who="admin")
    assert (copied.status_code, copied.content) == (200, b"")
    assert "tinycopy:latest" in [m["name"] for m in api.as_("alice").get("/api/tags").json()["models"]]
    gone = httpx.request(
        "DELETE",
        f"{api.base_url}/api/delete",
        json={"model": "tinycopy"},
        headers={"Authorization": f"Bearer {api.tokens['admin']}"},
    )
    assert (gone.status_code, gone.content) == (200, b"")
    again = httpx.request(
        "DELETE",
        f"{api.base_url}/api/delete",
        json={"model": "tinycopy"},
        headers={"Authorization": f"Bearer {api.tokens['admin']}"},
    )
    assert again.status_code == 404 and "not found" in again.json()["error"]
    jobs = api.as_("admin").get("/api/ai-agent/jobs", params={"limit": 10}).json()["jobs"]
    assert [job["job_type"] for job in jobs] == ["model.delete", "model.delete", "model.copy", "model.pull"]


async def test_the_lock_view_shows_how_far_a_job_is_never_what_it_says(api: Api, sim: Simulator) -> None:
    sim.hold(endpoints=["chat"], after_tokens=3)
    headers = {"Authorization": f"Bearer {api.tokens['alice']}"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=headers, timeout=30) as http:
        body = {"model": "qwen3:0.6b", "messages": HI, "stream": False}
        asked = asyncio.create_task(http.post("/api/chat", json=body))
        await asyncio.to_thread(sim.wait_held, 1)

        def running() -> list:
            return api.as_("bob").get("/api/ai-agent/lock").json()["holders"]

        (holder,) = await until(running, within=10, what="alice's chat holding the GPU")
        own = await until(
            lambda: (
                api.as_("alice").get(f"/api/ai-agent/job/{holder['job_id']}/status").json()["progress"].get("thinking")
            ),
            within=10,
            what="her job's reasoning in her own status",
        )
        assert own
        assert not {"text", "thinking", "tool_calls"} & set(running()[0]["progress"])
        sim.release()
        assert (await asked).status_code == 200


HI = [{"role": "user", "content": "Hi"}]


def test_an_admin_uploads_a_blob_creates_a_model_and_pushes_it(api: Api, sim: Simulator) -> None:
    import hashlib

    admin = {"Authorization": f"Bearer {api.tokens['admin']}"}
    adapter = b"an adapter's bytes"
    digest = f"sha256:{hashlib.sha256(adapter).hexdigest()}"
    assert httpx.head(f"{api.base_url}/api/blobs/{digest}", headers=admin).status_code == 404
    assert httpx.post(f"{api.base_url}/api/blobs/{digest}", content=adapter, headers=admin).status_code == 201
    assert httpx.head(f"{api.base_url}/api/blobs/{digest}", headers=admin).status_code == 200
    assert httpx.head(f"{api.base_url}/api/blobs/nonsense", headers=admin).status_code == 400
    body = {"model": "team/mine", "from": "tinyllama", "adapters": {"adapter.safetensors": digest}, "system": "Hi."}
    with httpx.stream("POST", f"{api.base_url}/api/create", json=body, headers=admin, timeout=30) as reply:
        lines = [json.loads(line) for line in reply.iter_lines() if line]
    assert lines[-1] == {"status": "success"} and any(digest in line["status"] for line in lines[:-1])
    pushed = post(api, "/api/push", {"model": "team/mine", "stream": False}, who="admin")
    assert pushed.json() == {"status": "success"}
    jobs = api.as_("admin").get("/api/ai-agent/jobs", params={"limit": 5}).json()["jobs"]
    assert [job["job_type"] for job in jobs] == ["model.push", "model.create"]
    assert post(api, "/api/create", body).status_code == 403  # alice is no admin


async def test_with_several_gpu_hosts_every_hosts_models_are_listed_shown_and_run(
    start_api: Callable[..., Api], sim: Simulator, client: Callable, db: asyncpg.Pool
) -> None:
    """A client pointed at aijobs sees the fleet as one Ollama: a model only the second host has is in
    /api/tags, /api/show and /v1/models, and a request for it runs there (it was "not found": only the
    first host was asked)."""
    other = start_simulator(token_delay=0.003, tokens=5)
    try:
        async with httpx.AsyncClient(base_url=other.base_url) as http:
            copied = await http.post("/api/copy", json={"source": "tinyllama", "destination": "only-on-b"})
            assert copied.status_code == 200
        api = start_api(OLLAMA_HOSTS=f"box-a {sim.base_url}; box-b {other.base_url}", HOST_PROBE_INTERVAL="0.5")
        alice = client(api)
        names = [model.model for model in (await alice.list()).models]
        assert "only-on-b:latest" in names and "tinyllama:latest" in names
        assert len(names) == len(set(names)), "a model both hosts have is listed once"
        assert "tools" not in ((await alice.show("only-on-b")).capabilities or [])
        with pytest.raises(ollama.ResponseError) as missing:
            await alice.show("nowhere")
        assert missing.value.status_code == 404
        v1 = api.as_("alice").get("/v1/models").json()["data"]
        assert "only-on-b:latest" in [entry["id"] for entry in v1]
        assert api.as_("alice").get("/v1/models/only-on-b").status_code == 200

        async def probed() -> bool:
            found = await db.fetchval("SELECT installed ? 'only-on-b:latest' FROM hosts WHERE name = 'box-b'")
            return bool(found)

        await until(probed, within=30, what="box-b's models probed")
        answer = await alice.generate(model="only-on-b", prompt="Hello")
        assert answer.done and answer.response
        assert other.stats()["requests"]["generate"] == 1 and sim.stats()["requests"]["generate"] == 0
    finally:
        other.stop()
