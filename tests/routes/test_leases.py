"""`/api/locks`: leases on other resources — one holder per key, owner-only release, expiry recorded,
admin force-release — and jobs that need such a key besides the GPU slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.routes.test_jobs import GENERATE, wait_for_status
from tests.support.api import Api
from tests.support.simulator import Simulator

FOLDER = {"key": "folder:/srv/repo", "owner": "deploy-bot", "task_id": "T-9", "ttl_seconds": 60, "details": "sync"}


def test_acquire_is_exclusive_and_only_the_owner_releases(api: Api) -> None:
    alice, bob, admin = api.as_("alice"), api.as_("bob"), api.as_("admin")
    taken = alice.post("/api/locks", json=FOLDER)
    assert taken.status_code == 201
    assert taken.json()["key"] == "folder:/srv/repo" and taken.json()["username"] == "alice"
    conflict = bob.post("/api/locks", json={**FOLDER, "owner": "bob"})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["details"]["holder"]["username"] == "alice"
    assert "held by alice" in conflict.json()["error"]["message"]

    status = bob.get("/api/locks/folder:/srv/repo/status").json()
    assert status["task_ref"] == "T-9" and status["details"] == "sync"
    assert [lease["key"] for lease in bob.get("/api/locks").json()["leases"]] == ["folder:/srv/repo"]

    assert bob.delete("/api/locks/folder:/srv/repo").status_code == 403
    assert bob.post("/api/locks/folder:/srv/repo/renew", json={"ttl_seconds": 60}).status_code == 403
    renewed = alice.post("/api/locks/folder:/srv/repo/renew", json={"ttl_seconds": 3600}).json()
    assert renewed["expires_at"] > taken.json()["expires_at"]
    assert alice.delete("/api/locks/folder:/srv/repo").status_code == 200
    assert bob.get("/api/locks/folder:/srv/repo/status").status_code == 404
    assert alice.delete("/api/locks/folder:/srv/repo").status_code == 404
    assert bob.post("/api/locks", json=FOLDER).status_code == 201  # free again

    assert alice.post("/api/locks/folder:/srv/repo/force-release").status_code == 403
    forced = admin.post("/api/locks/folder:/srv/repo/force-release")
    assert forced.status_code == 200 and forced.json()["released_from"] == "bob"
    history = alice.get("/api/locks/history", params={"key": "folder:/srv/repo"}).json()["entries"]
    assert [(entry["username"], entry["end_reason"], entry["ended_by"]) for entry in history] == [
        ("bob", "force_released", "admin"),
        ("alice", "released", "alice"),
    ]


def test_renew_without_a_body_extends_by_the_default_ttl(api: Api) -> None:
    alice = api.as_("alice")
    alice.post("/api/locks", json={**FOLDER, "ttl_seconds": 5})
    renewed = alice.post("/api/locks/folder:/srv/repo/renew")  # no body at all, as `curl -X POST` sends
    assert renewed.status_code == 200, renewed.text
    holder = renewed.json()
    term = datetime.fromisoformat(holder["expires_at"]) - datetime.now(UTC)
    assert timedelta(seconds=290) < term <= timedelta(seconds=300)  # RenewLease's default, as on acquire


def test_bad_lease_requests_name_the_field(api: Api) -> None:
    alice = api.as_("alice")
    no_key = alice.post("/api/locks", json={"ttl_seconds": 5})
    assert no_key.status_code == 422 and "body.key" in no_key.json()["error"]["message"]
    negative = alice.post("/api/locks", json={"key": "k", "ttl_seconds": -1})
    assert negative.status_code == 422 and "ttl_seconds" in negative.json()["error"]["message"]
    slot = alice.post("/api/locks", json={"key": "gpu/0"})
    assert slot.status_code == 422 and "GPU slot" in slot.json()["error"]["message"]


async def test_an_expired_lease_is_free_and_recorded_as_expired(api: Api, engine: AsyncEngine) -> None:
    alice, bob = api.as_("alice"), api.as_("bob")
    assert alice.post("/api/locks", json={**FOLDER, "ttl_seconds": 1}).status_code == 201
    async with engine.begin() as conn:  # as if alice's process had died a while ago
        await conn.execute(text("UPDATE leases SET expires_at = now() - interval '1 second'"))
    assert bob.get("/api/locks").json()["leases"] == []
    assert bob.post("/api/locks", json=FOLDER).status_code == 201
    history = bob.get("/api/locks/history").json()["entries"]
    assert [(entry["username"], entry["end_reason"]) for entry in history] == [("bob", None), ("alice", "expired")]


def test_a_job_needing_a_held_key_waits_then_runs_once_it_frees(api: Api, sim: Simulator) -> None:
    alice, bob = api.as_("alice"), api.as_("bob")
    assert alice.post("/api/locks", json=FOLDER).status_code == 201
    blocked = bob.post("/api/ai-agent/jobs", json={**GENERATE, "locks": ["folder:/srv/repo"]}).json()["job_id"]
    free = bob.post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"]
    assert wait_for_status(bob, free, {"completed"})["status"] == "completed"  # not stuck behind the blocked one
    status = bob.get(f"/api/ai-agent/job/{blocked}/status").json()
    assert status["status"] == "queued"
    assert status["waiting_for"] and status["waiting_for"][0].startswith("folder:/srv/repo (held by alice")

    sim.configure(token_delay=0.05, tokens=40)
    alice.delete("/api/locks/folder:/srv/repo")  # frees the key: the job is claimed at once
    wait_for_status(bob, blocked, {"running"})
    holder = alice.get("/api/locks/folder:/srv/repo/status").json()
    assert holder["username"] == "bob" and holder["job_id"] == blocked  # the job holds the key while it runs
    assert alice.post("/api/locks", json=FOLDER).status_code == 409
    assert wait_for_status(bob, blocked, {"completed"})["status"] == "completed"
    assert alice.get("/api/locks/folder:/srv/repo/status").status_code == 404  # released with the job
    assert sim.stats()["requests"]["generate"] == 2
