"""`/api/ai-agent/hosts`: anyone signed in sees the fleet (a host's Ollama address only admins); admins add,
change, drain, resume and remove hosts; bad input is a 422 naming the field and the fix."""

from __future__ import annotations

import asyncpg
import pytest

from tests.support.api import Api
from tests.support.simulator import Simulator

HOSTS = "/api/ai-agent/hosts"


def host(listing: dict, name: str) -> dict:
    return next(entry for entry in listing["hosts"] if entry["name"] == name)


def test_admins_manage_hosts_and_everyone_sees_them(api: Api, sim: Simulator) -> None:
    admin, alice = api.as_("admin"), api.as_("alice")
    body = {"name": "box-a", "base_url": sim.base_url, "slots": 2, "gpu_memory": "24GiB", "labels": ["a100"]}
    added = admin.post(HOSTS, json=body)
    assert added.status_code == 201, added.text
    assert {key: added.json()[key] for key in ("name", "base_url", "slots", "gpu_memory", "labels", "draining")} == {
        "name": "box-a",
        "base_url": sim.base_url,
        "slots": 2,
        "gpu_memory": 24 * 2**30,
        "labels": ["a100"],
        "draining": False,
    }
    assert admin.post(HOSTS, json=body).status_code == 409

    seen_by_admin = admin.get(HOSTS).json()
    assert seen_by_admin["scheduler"] == "placement" and seen_by_admin["max_bypass_seconds"] == 120.0
    assert host(seen_by_admin, "box-a")["base_url"] == sim.base_url
    seen_by_alice = alice.get(HOSTS).json()
    assert all(entry["base_url"] is None for entry in seen_by_alice["hosts"])
    box_a = host(seen_by_alice, "box-a")
    assert {"state", "reachable", "version", "probed_at", "loaded", "running", "queued_warm", "costs"} <= set(box_a)
    assert box_a["running"] == [] and box_a["slots"] == 2

    changed = admin.patch(f"{HOSTS}/box-a", json={"slots": 4, "labels": [], "gpu_memory": 17179869184})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["slots"], changed.json()["labels"], changed.json()["gpu_memory"]) == (4, [], 2**34)
    assert changed.json()["base_url"] == sim.base_url  # left out: unchanged
    forgotten = admin.patch(f"{HOSTS}/box-a", json={"gpu_memory": None}).json()
    assert (forgotten["gpu_memory"], forgotten["slots"]) == (None, 4)

    drained = admin.post(f"{HOSTS}/box-a/drain")
    assert drained.status_code == 200 and (drained.json()["state"], drained.json()["draining"]) == ("draining", True)
    assert host(alice.get(HOSTS).json(), "box-a")["state"] == "draining"
    resumed = admin.post(f"{HOSTS}/box-a/resume")
    assert resumed.status_code == 200 and resumed.json()["draining"] is False

    assert admin.delete(f"{HOSTS}/box-a").status_code == 204
    assert "box-a" not in [entry["name"] for entry in alice.get(HOSTS).json()["hosts"]]
    for method, path in (("DELETE", "box-a"), ("POST", "box-a/drain"), ("POST", "box-a/resume")):
        gone = admin.request(method, f"{HOSTS}/{path}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert admin.patch(f"{HOSTS}/box-a", json={"slots": 1}).status_code == 404


async def test_a_host_running_jobs_is_not_removed(api: Api, db: asyncpg.Pool, sim: Simulator) -> None:
    admin = api.as_("admin")
    assert admin.post(HOSTS, json={"name": "box-a", "base_url": sim.base_url}).status_code == 201
    await db.execute(
        "INSERT INTO leases (key, holder, host, username, operation, expires_at) "
        "VALUES ('gpu/box-a/0', 'worker-x', 'box-a', 'alice', 'AI Text Generation', now() + interval '1 hour')"
    )
    refused = admin.delete(f"{HOSTS}/box-a")
    assert refused.status_code == 409
    assert "drain it first" in refused.json()["error"]["message"]
    running = host(api.as_("bob").get(HOSTS).json(), "box-a")["running"]
    assert [(entry["slot"], entry["username"], entry["operation"]) for entry in running] == [
        (0, "alice", "AI Text Generation")
    ]
    await db.execute("DELETE FROM leases WHERE key = 'gpu/box-a/0'")
    assert admin.delete(f"{HOSTS}/box-a").status_code == 204


@pytest.mark.parametrize(
    ("body", "field", "fix"),
    [
        ({"name": "Box A", "base_url": "http://10.0.0.1:11434"}, "name", "lower-case letters"),
        ({"name": "box-a", "base_url": "10.0.0.1:11434"}, "base_url", "http(s)://"),
        ({"name": "box-a", "base_url": "http://10.0.0.1:11434", "slots": 0}, "slots", "between 1 and 64"),
        ({"name": "box-a", "base_url": "http://10.0.0.1:11434", "slots": 65}, "slots", "between 1 and 64"),
        ({"name": "box-a", "base_url": "http://10.0.0.1:11434", "gpu_memory": "lots"}, "gpu_memory", "24GiB"),
        ({"name": "box-a", "base_url": "http://10.0.0.1:11434", "gpu_memory": 0}, "gpu_memory", "24GiB"),
        ({"name": "box-a", "base_url": "http://10.0.0.1:11434", "labels": ["no spaces"]}, "labels", "letters"),
    ],
)
def test_bad_hosts_are_refused_naming_the_field(api: Api, body: dict, field: str, fix: str) -> None:
    refused = api.as_("admin").post(HOSTS, json=body)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_input" and error["details"]["field"] == field and fix in error["message"]


def test_bad_bodies_are_refused_naming_the_field(api: Api, sim: Simulator) -> None:
    admin = api.as_("admin")
    missing = admin.post(HOSTS, json={"name": "box-a"})
    assert missing.status_code == 422 and "body.base_url" in missing.json()["error"]["message"]
    typed = admin.post(HOSTS, json={"name": "box-a", "base_url": sim.base_url, "slots": "many"})
    assert typed.status_code == 422 and "body.slots" in typed.json()["error"]["message"]
    assert admin.post(HOSTS, json={"name": "box-a", "base_url": sim.base_url}).status_code == 201
    nothing = admin.patch(f"{HOSTS}/box-a", json={})
    assert nothing.status_code == 422 and "Nothing to change" in nothing.json()["error"]["message"]
    bad_slots = admin.patch(f"{HOSTS}/box-a", json={"slots": 0})
    assert bad_slots.status_code == 422 and bad_slots.json()["error"]["details"]["field"] == "slots"
    unknown = admin.patch(f"{HOSTS}/box-a", json={"gpus": 2})
    assert unknown.status_code == 422 and "body.gpus" in unknown.json()["error"]["message"]


def test_only_admins_change_hosts(api: Api, sim: Simulator) -> None:
    alice, nobody = api.as_("alice"), api.as_(None)
    assert api.as_("admin").post(HOSTS, json={"name": "box-a", "base_url": sim.base_url}).status_code == 201
    writes = [
        ("POST", HOSTS, {"name": "box-b", "base_url": sim.base_url}),
        ("PATCH", f"{HOSTS}/box-a", {"slots": 2}),
        ("POST", f"{HOSTS}/box-a/drain", None),
        ("POST", f"{HOSTS}/box-a/resume", None),
        ("DELETE", f"{HOSTS}/box-a", None),
    ]
    for method, path, body in writes:
        forbidden = alice.request(method, path, json=body)
        assert forbidden.status_code == 403, (method, path)
        assert forbidden.json()["error"]["code"] == "forbidden"
        assert nobody.request(method, path, json=body).status_code == 401
    assert nobody.get(HOSTS).status_code == 401
    assert host(alice.get(HOSTS).json(), "box-a")["draining"] is False  # nothing changed


def test_the_default_host_follows_the_settings_and_says_so(api: Api, sim: Simulator) -> None:
    """Without OLLAMA_HOSTS every process runs the default host with its own OLLAMA_BASE_URL and
    MAX_CONCURRENT_JOBS; a change of its address or slots here would not last: 409 saying what to do."""
    admin = api.as_("admin")
    refused = admin.patch(f"{HOSTS}/default", json={"slots": 4})
    assert refused.status_code == 409 and "MAX_CONCURRENT_JOBS" in refused.json()["error"]["message"]
    assert admin.patch(f"{HOSTS}/default", json={"labels": ["a100"]}).status_code == 200
    assert admin.post(f"{HOSTS}/default/drain").json()["state"] == "draining"
    assert admin.post(f"{HOSTS}/default/resume").json()["state"] == "up"
