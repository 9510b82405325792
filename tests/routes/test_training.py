"""Training over HTTP: "Train AI" in one request, bad examples refused by line, the GPU held by the run."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.routes.test_jobs import wait_for_status
from tests.support.api import Api

EXAMPLES = "".join(
    json.dumps({"prompt": f"What does step {n} do?", "response": f"Step {n} keeps the queue moving."}) + "\n"
    for n in range(8)
)
REPORT = {
    "title": "ACME Breach",
    "details": "Case: ACME Breach (ID: 5)",
    "sections": [{"heading": "Summary", "instructions": "One line."}],
}


def test_train_ai_in_one_request_deploys_and_switches_the_active_model(api: Api) -> None:
    alice, admin = api.as_("alice"), api.as_("admin")
    assert alice.get("/api/ai-agent/settings").json()["active_model"] == "tinyllama"
    accepted = alice.post("/api/ai-agent/training", json={"base_model": "tinyllama", "examples": EXAMPLES, "epochs": 1})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "queued"
    done = wait_for_status(alice, accepted.json()["job_id"], {"completed", "failed"}, within=60)
    assert done["status"] == "completed", done["error_message"]
    model = alice.get(f"/api/ai-agent/job/{done['job_id']}/result").json()["result"]["model"]
    settings = alice.get("/api/ai-agent/settings").json()
    assert settings["active_model"] == model and settings["ai_model_trained"] is True
    assert settings["ai_training_examples"] == 8

    generated = alice.post("/api/ai-agent/jobs?wait=30", json={"job_type": "generate", "request": {"prompt": "Hi"}})
    assert generated.status_code == 200 and generated.json()["result"]["model"] == model

    assert alice.put("/api/ai-agent/settings/active-model", json={"model": "tinyllama"}).status_code == 403
    switched = admin.put("/api/ai-agent/settings/active-model", json={"model": "tinyllama"})
    assert switched.status_code == 200 and switched.json()["active_model"] == "tinyllama"
    bad = admin.put("/api/ai-agent/settings/active-model", json={"model": "bad name!"})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "model"


def test_bad_example_lines_are_reported_by_number_and_nothing_is_queued(api: Api) -> None:
    alice = api.as_("alice")
    lines = EXAMPLES.splitlines()
    lines[2] = "{not json"
    lines[5] = json.dumps({"prompt": "only a prompt"})
    body = "\n".join(lines)
    refused = alice.post("/api/ai-agent/training", json={"base_model": "tinyllama", "examples": body})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert [item["line"] for item in error["details"]["lines"]] == [3, 6]
    assert "line 3: not JSON" in error["message"] and "line 6: `response` is missing" in error["message"]
    uploaded = alice.post("/api/ai-agent/training/sets?name=broken", content=body.encode())
    assert uploaded.status_code == 422 and uploaded.json()["error"]["details"]["bad_lines"] == 2
    assert alice.get("/api/ai-agent/jobs").json()["jobs"] == []
    assert alice.get("/api/ai-agent/training/sets").json() == []
    neither = alice.post("/api/ai-agent/training", json={"base_model": "tinyllama"})
    assert neither.status_code == 422 and "either `examples`" in neither.json()["error"]["message"]


def test_uploaded_sets_belong_to_their_owner(api: Api) -> None:
    alice, bob = api.as_("alice"), api.as_("bob")
    uploaded = alice.post("/api/ai-agent/training/sets?name=faq", content=EXAMPLES.encode())
    assert uploaded.status_code == 201 and uploaded.json()["example_count"] == 8
    set_id = uploaded.json()["id"]
    assert [s["id"] for s in alice.get("/api/ai-agent/training/sets").json()] == [set_id]
    assert bob.get("/api/ai-agent/training/sets").json() == []
    stolen = bob.post("/api/ai-agent/training", json={"base_model": "tinyllama", "training_set_id": set_id})
    assert stolen.status_code == 404
    request = {"base_model": "tinyllama", "training_set_id": set_id}
    through_jobs = bob.post("/api/ai-agent/jobs", json={"job_type": "training", "request": request})
    assert through_jobs.status_code == 404, "the generic submit checks ownership too"
    assert bob.get("/api/ai-agent/jobs").json()["jobs"] == []


def test_a_report_during_training_queues_behind_it_and_the_busy_message_names_the_run(
    start_api: Callable[..., Api],
) -> None:
    slow = "sh -c 'echo \"progress: 10%\"; sleep 300'"
    api = start_api(TRAINING_COMMAND=slow, TRAINING_KILL_GRACE="1")
    alice, bob = api.as_("alice"), api.as_("bob")
    training = alice.post("/api/ai-agent/training", json={"base_model": "tinyllama", "examples": EXAMPLES}).json()
    wait_for_status(alice, training["job_id"], {"running"})

    queued = bob.post("/api/ai-agent/reports", json=REPORT)
    assert queued.status_code == 202 and queued.json()["position"] == 0
    assert queued.json()["lock"]["holders"][0]["operation"] == "AI Model Training"
    rejected = bob.post("/api/ai-agent/reports?if_busy=reject", json=REPORT)
    assert rejected.status_code == 409
    message = rejected.json()["error"]["message"]
    assert message.startswith("AI resources are currently in use.\nOperation: AI Model Training\n")
    assert "Details: Training from tinyllama on 8 examples" in message and "Started by: alice" in message

    assert alice.post(f"/api/ai-agent/job/{training['job_id']}/cancel").status_code == 200
    assert wait_for_status(alice, training["job_id"], {"cancelled", "failed"})["status"] == "cancelled"
    report = wait_for_status(bob, queued.json()["job_id"], {"completed", "failed"}, within=30)
    assert report["status"] == "completed", report["error_message"]
    settings = alice.get("/api/ai-agent/settings").json()
    assert settings["active_model"] == "tinyllama" and settings["ai_model_trained"] is False


def test_a_users_training_changes_only_their_own_default_and_never_an_existing_model(api: Api) -> None:
    """Training deploys under a name that cannot collide with a model Ollama has, becomes its user's
    default, and leaves everyone else's default alone; only admins change that, to a model Ollama has."""
    alice, bob, admin = api.as_("alice"), api.as_("bob"), api.as_("admin")
    body = {"base_model": "tinyllama", "examples": EXAMPLES, "epochs": 1}
    taken = alice.post("/api/ai-agent/training", json={**body, "model_name": "tinyllama:latest"})
    assert taken.status_code == 409 and "tinyllama:latest" in taken.json()["error"]["message"]
    forbidden = alice.post("/api/ai-agent/training", json={**body, "make_default": True})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["details"]["field"] == "make_default"
    assert (
        alice.get("/api/ai-agent/jobs").json()["jobs"] == [] and alice.get("/api/ai-agent/training/sets").json() == []
    )

    accepted = alice.post("/api/ai-agent/training", json=body)
    done = wait_for_status(alice, accepted.json()["job_id"], {"completed", "failed"}, within=60)
    assert done["status"] == "completed", done["error_message"]
    model = alice.get(f"/api/ai-agent/job/{done['job_id']}/result").json()["result"]["model"]
    assert alice.get("/api/ai-agent/settings").json()["active_model"] == model
    assert bob.get("/api/ai-agent/settings").json()["active_model"] == "tinyllama"
    answered = bob.post("/api/ai-agent/jobs?wait=30", json={"job_type": "generate", "request": {"prompt": "Hi"}})
    assert answered.json()["result"]["model"] == "tinyllama", "bob's jobs keep everyone's default"

    missing = admin.put("/api/ai-agent/settings/active-model", json={"model": "nosuchmodel"})
    assert missing.status_code == 404 and admin.get("/api/ai-agent/settings").json()["everyones_model"] == "tinyllama"
    assert admin.put("/api/ai-agent/settings/active-model", json={"model": model}).status_code == 200
    assert bob.get("/api/ai-agent/settings").json()["active_model"] == model
