"""One key for many people (Open WebUI, a proxy): a gateway's key names the person per request, and
that person is the job's user — for the lock, fairness, quotas and usage. And token usage per user."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import openai
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.accounts import users
from tests.support.api import Api
from tests.support.simulator import Simulator
from tests.support.waiting import until

HI = [{"role": "user", "content": "Hi"}]
ALICE = {"X-OpenWebUI-User-Id": "u-1", "X-OpenWebUI-User-Name": "Alice", "X-OpenWebUI-User-Email": "a@example.com"}
BOB = {"X-OpenWebUI-User-Id": "u-2", "X-OpenWebUI-User-Name": "Bob"}


async def gateway_key(engine: AsyncEngine, api: Api) -> str:
    """A user `open-webui` whose key an admin marked as a gateway's (through the API)."""
    async with engine.begin() as conn:
        issued = await users.create_user(conn, "open-webui")
    marked = api.as_("admin").put(f"/api/ai-agent/admin/keys/{issued.key_id}/gateway", json={"gateway": True})
    assert marked.status_code == 200 and marked.json()["is_gateway"] is True
    return issued.key


async def test_the_person_a_gateway_names_is_the_jobs_user(api: Api, sim: Simulator, engine: AsyncEngine) -> None:
    key = await gateway_key(engine, api)
    sim.hold(endpoints=["chat"], after_tokens=1)
    gateway = openai.AsyncOpenAI(base_url=f"{api.base_url}/v1", api_key=key, max_retries=0, default_headers=ALICE)
    try:
        asked = asyncio.create_task(gateway.chat.completions.create(model="tinyllama", messages=HI))
        await asyncio.to_thread(sim.wait_held, 1)

        def holders() -> list:
            return api.as_("bob").get("/api/ai-agent/lock").json()["holders"]

        (holder,) = await until(holders, within=10, what="the gateway's job holding the GPU")
        assert holder["username"] == "Alice via open-webui" and holder["user_id"] == "open-webui:u-1"
        busy = api.as_("bob").post(
            "/api/ai-agent/jobs?if_busy=reject", json={"job_type": "generate", "request": {"prompt": "x"}}
        )
        assert "Started by: Alice via open-webui" in busy.json()["error"]["message"]
        sim.release()
        await asked
    finally:
        await gateway.close()
    # Each person is a user of their own: their jobs, their usage; the gateway's own list has neither.
    async with httpx.AsyncClient(base_url=api.base_url, headers={"Authorization": f"Bearer {key}"}) as http:
        as_alice = (await http.get("/api/ai-agent/jobs", headers=ALICE)).json()["jobs"]
        as_bob = await http.get("/api/ai-agent/jobs", headers=BOB)
    assert [job["username"] for job in as_alice] == ["Alice via open-webui"] and as_bob.json()["jobs"] == []
    listed = {user["id"]: user for user in api.as_("admin").get("/api/ai-agent/admin/users").json()}
    assert listed["open-webui:u-1"]["username"] == "Alice via open-webui"


async def test_two_people_behind_one_gateway_take_turns_with_a_direct_user(
    api: Api, sim: Simulator, engine: AsyncEngine
) -> None:
    """Fairness sees people: while Alice (via the gateway) has two more queued, Bob (via the same
    gateway) and carol's direct job each get the GPU before Alice's second."""
    key = await gateway_key(engine, api)
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:

        def ask(headers: dict[str, str], prompt: str, token: str = key) -> asyncio.Task:
            body = {"model": "tinyllama", "prompt": prompt, "stream": False}
            return asyncio.create_task(
                http.post("/api/generate", json=body, headers={"Authorization": f"Bearer {token}", **headers})
            )

        first = ask(ALICE, "alice 1")
        await asyncio.to_thread(sim.wait_held, 1)
        queued = [ask(ALICE, "alice 2"), ask(ALICE, "alice 3")]
        await until(lambda: api.as_("admin").get("/api/ai-agent/lock").json()["queue_length"] == 2, within=10)
        queued.append(ask(BOB, "bob 1"))
        await until(lambda: api.as_("admin").get("/api/ai-agent/lock").json()["queue_length"] == 3, within=10)
        sim.release()
        for task in [first, *queued]:
            assert (await task).status_code == 200
    order = [entry["prompt"] for entry in sim.stats()["log"] if entry.get("endpoint") == "generate"]
    assert order.index("bob 1") < order.index("alice 3")


def test_a_non_gateway_keys_person_headers_are_ignored(api: Api, sim: Simulator) -> None:
    headers = {"Authorization": f"Bearer {api.tokens['alice']}", "X-AIJobs-User": "bob"}
    reply = httpx.post(
        f"{api.base_url}/api/generate", json={"model": "tinyllama", "prompt": "x", "stream": False}, headers=headers
    )
    assert reply.status_code == 200
    (job,) = api.as_("alice").get("/api/ai-agent/jobs").json()["jobs"]
    assert job["username"] == "alice" and api.as_("bob").get("/api/ai-agent/jobs").json()["jobs"] == []


def test_usage_per_user_in_stats_and_metrics_and_the_daily_limit(start_api: Callable[..., Api], sim: Simulator) -> None:
    api = start_api(DAILY_TOKEN_LIMIT="1000000")
    alice = api.as_("alice")
    reply = alice.post("/api/chat", json={"model": "tinyllama", "messages": HI, "stream": False}).json()
    embedded = alice.post("/api/embed", json={"model": "nomic-embed-text", "input": "hello"}).json()
    (mine,) = alice.get("/api/ai-agent/jobs/stats").json()["usage"]
    prompt = reply["prompt_eval_count"] + embedded["prompt_eval_count"]
    assert mine["user_id"] == "alice" and mine["today"]["jobs"] == 2
    assert mine["today"]["prompt_tokens"] == prompt and mine["today"]["completion_tokens"] == reply["eval_count"]
    assert mine["last_7_days"] == mine["today"] and mine["today"]["total_seconds"] > 0
    everyone = api.as_("admin").get("/api/ai-agent/jobs/stats", params={"all": True}).json()["usage"]
    assert [entry["user_id"] for entry in everyone] == ["alice"]
    metrics = httpx.get(f"{api.base_url}/metrics").text
    assert (
        f'aijobs_user_tokens{{kind="completion",user="alice",window="today"}} {float(reply["eval_count"])}' in metrics
    )
    # Alice's own limit, set by an admin, below what she used today: her next request is a 429.
    limited = api.as_("admin").put("/api/ai-agent/admin/users/alice/token-limit", json={"daily_token_limit": 5})
    assert limited.status_code == 204
    refused = alice.post("/api/chat", json={"model": "tinyllama", "messages": HI, "stream": False})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "daily token limit" in refused.json()["error"]  # Ollama's shape on /api/*
    assert (
        api.as_("bob").post("/api/chat", json={"model": "tinyllama", "messages": HI, "stream": False}).status_code
        == 200
    )
