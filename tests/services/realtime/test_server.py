"""Socket.IO across replicas: two `aijobs serve` processes on one database, real Socket.IO clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.simulator import Simulator
from tests.support.sockets import Refused, SocketClient, connect
from tests.support.waiting import until

GENERATE = {"job_type": "generate", "request": {"model": "tinyllama", "prompt": "Tell me about queues"}}
TERMINAL = {"completed", "failed", "cancelled"}


def assemble(events: list[tuple[str, dict[str, Any]]], start: str = "") -> str:
    """Fold `job:progress` chunks into the text, the way a page does: each chunk says where it starts."""
    text = start
    for name, data in events:
        if name == "job:progress" and data.get("text"):
            assert data["offset"] <= len(text), f"chunk at {data['offset']} but only {len(text)} chars known"
            text = text[: data["offset"]] + data["text"]
    return text


@pytest.fixture
def two_replicas(start_api: Callable[..., Api], sim: Simulator) -> tuple[Api, Api]:
    sim.configure(token_delay=0.03, tokens=30)
    return start_api(), start_api(processor=False)  # A runs jobs; B only serves


async def test_client_on_replica_b_receives_every_event_of_a_job_run_by_replica_a_in_order(
    two_replicas: tuple[Api, Api],
) -> None:
    a, b = two_replicas
    alice = await connect(b.base_url, b.tokens["alice"])
    bob = await connect(b.base_url, b.tokens["bob"])
    try:
        job_id = a.as_("alice").post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"]
        await until(lambda: alice.job_ended(job_id), 30, "alice's client sees the job end")
        result = a.as_("alice").get(f"/api/ai-agent/job/{job_id}/result").json()["result"]

        events = alice.of_job(job_id)
        statuses = [data["status"] for name, data in events if name == "job:update"]
        assert statuses[-1] == "completed" and "running" in statuses
        order = ["queued", "running", "completed"]
        assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses), statuses
        assert events[-1][0] == "job:update", "nothing arrives after the final status"
        progress = [data for name, data in events if name == "job:progress"]
        assert len(progress) >= 3, "progress streams while the job runs"
        first_running = next(i for i, (name, data) in enumerate(events) if data.get("status") == "running")
        assert all(name == "job:update" for name, _ in events[:first_running])
        assert [p["offset"] for p in progress if p["text"]] == sorted(p["offset"] for p in progress if p["text"])
        assert assemble(events) == result["response"]
        assert events[-1][1]["progress"]["percent"] == 100

        assert bob.of_job(job_id) == [], "bob never receives alice's job events"
        holders = [h["username"] for name, data in bob.events if name == "lock:update" for h in data["holders"]]
        assert "alice" in holders, "everyone sees who holds the GPU"
        await until(lambda: bob.events[-1][1]["locked"] is False, 10, "a lock:update saying the GPU is free again")
    finally:
        await alice.close()
        await bob.close()


async def test_a_reconnecting_client_catches_up_from_the_status_endpoint(two_replicas: tuple[Api, Api]) -> None:
    a, b = two_replicas
    http = b.as_("alice")
    job_id = a.as_("alice").post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"]
    first = await connect(b.base_url, b.tokens["alice"])
    await until(lambda: any(name == "job:progress" for name, _ in first.of_job(job_id)), 20, "some progress")
    await first.close()  # the socket drops mid-job

    second = await connect(a.base_url, a.tokens["alice"])  # back, on the other replica this time
    try:
        answer = await second.client.call("subscribe", {"job_id": job_id}, timeout=10)
        assert answer["ok"] is True
        known = answer["status"]["progress"].get("text", "")
        await until(lambda: second.job_ended(job_id), 30, "the job ends")
        chunks = second.of_job(job_id)
        offsets = [data["offset"] for name, data in chunks if name == "job:progress" and data["text"]]
        if offsets and offsets[0] > len(known):  # the status row lags the events a little: read it again

            def status_text_reaching_first_chunk() -> str | None:
                text = http.get(f"/api/ai-agent/job/{job_id}/status").json()["progress"].get("text", "")
                return text if len(text) >= offsets[0] else None

            known = await until(status_text_reaching_first_chunk, 10, "the status text to reach the first chunk")
        final = http.get(f"/api/ai-agent/job/{job_id}/result").json()["result"]["response"]
        assert assemble(chunks, known) == final
    finally:
        await second.close()


async def test_connecting_needs_a_valid_token(two_replicas: tuple[Api, Api]) -> None:
    _, b = two_replicas
    reasons = []
    for token in (None, "aij_not-a-real-key"):
        with pytest.raises(Refused) as refused:
            await connect(b.base_url, token)
        reasons.append(refused.value.reason)
    assert [reason["data"]["code"] for reason in reasons] == ["unauthorized", "unauthorized"]
    assert "auth: {token" in reasons[0]["message"]
    assert reasons[1]["message"] == "Unknown or revoked API key."


async def test_subscribe_only_to_your_own_jobs_unless_admin(two_replicas: tuple[Api, Api]) -> None:
    a, b = two_replicas
    job_id = a.as_("alice").post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"]
    clients: list[SocketClient] = []
    try:
        for who in ("alice", "bob", "admin"):
            clients.append(await connect(b.base_url, b.tokens[who]))
        answers = [await client.client.call("subscribe", {"job_id": job_id}, timeout=10) for client in clients]
        assert [answer["ok"] for answer in answers] == [True, False, True]
        assert answers[1]["error"]["code"] == "not_found"
        assert answers[0]["status"]["job_id"] == job_id
        bad = await clients[0].client.call("subscribe", {"job_id": "nope"}, timeout=10)
        assert bad["ok"] is False and bad["error"]["code"] == "invalid_input"
        await until(lambda: clients[2].job_ended(job_id), 30, "the admin sees the job end")
        assert clients[1].of_job(job_id) == []
    finally:
        for client in clients:
            await client.close()
