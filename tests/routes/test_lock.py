"""The GPU lock as people see it: who holds it, for what, since when; the 409 message; admin
force-release and maintenance holds; the history of who used the GPU."""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.routes.test_jobs import wait_for_status
from tests.support.api import Api
from tests.support.simulator import Simulator
from tests.support.sockets import connect
from tests.support.waiting import until

REPORT_LIKE = {
    "job_type": "generate",
    "request": {"model": "tinyllama", "prompt": "Write the findings."},
    "details": "Case: ACME Breach (ID: 5)",
}


def hold_the_gpu(api: Api, sim: Simulator) -> tuple[httpx.Client, str]:
    sim.configure(token_delay=0.1, tokens=600)  # about a minute: it holds the GPU until cancelled
    alice = api.as_("alice")
    job_id = alice.post("/api/ai-agent/jobs", json=REPORT_LIKE).json()["job_id"]
    wait_for_status(alice, job_id, {"running"})
    return alice, job_id


async def test_lock_names_the_holder_and_if_busy_reject_gives_the_message(
    api: Api, sim: Simulator, engine: AsyncEngine
) -> None:
    alice, job_id = hold_the_gpu(api, sim)
    bob = api.as_("bob")
    lock = bob.get("/api/ai-agent/lock").json()
    assert lock["locked"] is True and lock["capacity"] == 1 and lock["queue_length"] == 0
    [holder] = lock["holders"]
    assert holder["operation"] == "AI Text Generation" and holder["details"] == "Case: ACME Breach (ID: 5)"
    assert holder["username"] == "alice" and holder["job_id"] == job_id and holder["elapsed_seconds"] >= 0
    [host] = lock["hosts"]  # the one default host: who runs what there, never its address for bob
    assert host["name"] == "default" and host["state"] == "up" and host["base_url"] is None
    assert [(run["username"], run["job_id"]) for run in host["running"]] == [("alice", job_id)]

    # Make the hold five minutes old, as if alice had started it then.
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE leases SET acquired_at = now() - interval '5 minutes 3 seconds'"))
    refused = bob.post("/api/ai-agent/jobs", params={"if_busy": "reject"}, json=REPORT_LIKE)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "gpu_busy"
    assert error["message"] == (
        "AI resources are currently in use.\nOperation: AI Text Generation\nDetails: Case: ACME Breach (ID: 5)\n"
        "Started by: alice\nStarted: 5 minutes ago\n\nPlease wait for the current operation to complete."
    )
    assert error["details"]["holder"]["username"] == "alice"
    assert bob.post("/api/ai-agent/jobs", headers={"Prefer": "if-busy=reject"}, json=REPORT_LIKE).status_code == 409

    queued = bob.post("/api/ai-agent/jobs", json=REPORT_LIKE).json()  # without if_busy it queues
    assert queued["status"] == "queued" and queued["position"] == 0
    assert queued["lock"]["holders"][0]["username"] == "alice"
    assert bob.get("/api/ai-agent/lock").json()["queue_length"] == 1
    bob.post(f"/api/ai-agent/job/{queued['job_id']}/cancel")
    alice.post(f"/api/ai-agent/job/{job_id}/cancel")


async def test_admin_force_release_cancels_the_holder_and_records_who(api: Api, sim: Simulator) -> None:
    alice, job_id = hold_the_gpu(api, sim)
    waiting = api.as_("bob").post("/api/ai-agent/jobs", json={**REPORT_LIKE, "details": None}).json()["job_id"]
    sim.configure(token_delay=0.005, tokens=5)  # bob's job, once it starts, is quick

    released = api.as_("admin").post("/api/ai-agent/lock/force-release")
    assert released.status_code == 200
    [entry] = released.json()
    assert entry["cancelled_job"] == job_id and entry["released_from"] == "alice"

    assert wait_for_status(alice, job_id, {"cancelled"}, within=5)["error_message"] == "Force-released by admin."
    assert wait_for_status(api.as_("bob"), waiting, {"completed"})["status"] == "completed"
    history = api.as_("alice").get("/api/ai-agent/lock/history").json()["entries"]
    ends = {(item["username"], item["end_reason"], item["ended_by"]) for item in history}
    assert ("alice", "force_released", "admin") in ends and ("bob", "released", None) in ends
    assert sim.stats()["disconnects"] >= 1  # alice's stream was really closed


async def test_maintenance_hold_keeps_jobs_waiting_until_released(api: Api, sim: Simulator) -> None:
    admin = api.as_("admin")
    taken = admin.post("/api/ai-agent/lock/maintenance", json={"ttl_seconds": 600, "details": "driver update"})
    assert taken.status_code == 201 and taken.json()["operation"] == "Maintenance"
    alice = api.as_("alice")
    job_id = alice.post("/api/ai-agent/jobs", json=REPORT_LIKE).json()["job_id"]
    lock = alice.get("/api/ai-agent/lock").json()
    assert lock["holders"][0]["details"] == "driver update" and lock["queue_length"] == 1
    assert alice.get(f"/api/ai-agent/job/{job_id}/status").json()["status"] == "queued"
    busy = admin.post("/api/ai-agent/lock/maintenance", json={"ttl_seconds": 60})
    assert busy.status_code == 409 and "Operation: Maintenance" in busy.json()["error"]["message"]
    assert alice.delete("/api/ai-agent/lock/maintenance/0").status_code == 403  # admins only
    assert admin.delete("/api/ai-agent/lock/maintenance/0").status_code == 200
    assert wait_for_status(alice, job_id, {"completed"})["status"] == "completed"
    assert sim.stats()["requests"]["generate"] == 1


async def test_bob_sees_who_holds_the_gpu_but_no_byte_of_alices_text(api: Api, sim: Simulator) -> None:
    """The lock view is shared by everyone: who, what, since when, how far — never another user's text,
    on any surface (the lock, the lease status, the 409, Socket.IO's lock:update)."""
    sim.configure(tokens=40)
    sim.hold(endpoints=["generate"], after_tokens=20, count=1)  # alice's answer stops half-written
    alice, bob = api.as_("alice"), api.as_("bob")
    job_id = alice.post("/api/ai-agent/jobs", json=REPORT_LIKE).json()["job_id"]
    await asyncio.to_thread(sim.wait_held, 1)
    written = await until(
        lambda: alice.get(f"/api/ai-agent/job/{job_id}/status").json()["progress"].get("text"),
        what="alice's text so far in her job's status",
    )
    watcher = await connect(api.base_url, api.tokens["bob"])
    try:
        busy = bob.post("/api/ai-agent/jobs?if_busy=reject", json=REPORT_LIKE)
        assert busy.status_code == 409
        lock = bob.get("/api/ai-agent/lock").json()
        assert lock["holders"][0]["username"] == "alice" and lock["holders"][0]["progress"]["tokens"] >= 1
        alice.post("/api/ai-agent/jobs", json=REPORT_LIKE)  # a change, so a lock:update is sent
        update = await until(
            lambda: next((data for name, data in watcher.events if name == "lock:update" and data["holders"]), None),
            what="a lock:update naming the holder",
        )
        surfaces = {
            "GET /api/ai-agent/lock": lock,
            "GET /api/locks/gpu%2F0/status": bob.get("/api/locks/gpu%2F0/status").json(),
            "409 gpu_busy": busy.json(),
            "lock:update": update,
        }
        for surface, body in surfaces.items():
            seen = json.dumps(body)
            assert written not in seen and '"text"' not in seen, f"{surface} shows alice's text"
            assert "alice" in seen, f"{surface} still says who holds the GPU"
        assert bob.get(f"/api/ai-agent/job/{job_id}/status").status_code == 404
    finally:
        await watcher.close()
        sim.release()
