"""`/api/v1/models`: what Ollama has and has loaded, load/unload as queued jobs, name rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.api import Api
from tests.support.processes import free_port
from tests.support.simulator import Simulator


def test_list_and_status_show_what_is_loaded(api: Api, sim: Simulator) -> None:
    alice = api.as_("alice")
    listed = alice.get("/api/v1/models/list").json()
    names = [model["name"] for model in listed["models"]]
    assert "tinyllama:latest" in names and listed["count"] == len(names)
    assert not any(model["loaded"] for model in listed["models"])

    loaded = alice.post(
        "/api/v1/models/load", params={"wait": "true"}, json={"model": "tinyllama", "keep_alive": "30m"}
    )
    assert loaded.status_code == 200 and loaded.json()["status"] == "completed"
    status = alice.get("/api/v1/models/tinyllama:latest/status").json()
    assert status["available"] and status["loaded"] and status["size_vram"] > 0 and status["expires_at"]
    assert alice.get("/api/v1/models/tinyllama/status").json()["name"] == "tinyllama:latest"  # same model

    # An unload affects everyone: admins only.
    assert alice.delete("/api/v1/models/tinyllama/unload").status_code == 403
    queued = api.as_("admin").delete("/api/v1/models/tinyllama/unload")
    assert queued.status_code == 202 and queued.json()["job_id"]
    missing = alice.get("/api/v1/models/hf.co/org/missing-model:Q4_K_M/status")
    assert missing.status_code == 404 and "Pull it first" in missing.json()["error"]["message"]


def test_load_without_wait_is_202_with_the_job(api: Api) -> None:
    response = api.as_("bob").post("/api/v1/models/load", json={"model": "tinyllama"})
    assert response.status_code == 202
    body = response.json()
    status = api.as_("bob").get(f"/api/ai-agent/job/{body['job_id']}/status").json()
    assert status["job_type"] == "model.load" and status["username"] == "bob"


def test_resources_report_process_models_and_the_gpu_holder(api: Api) -> None:
    alice = api.as_("alice")
    alice.post("/api/v1/models/load", params={"wait": "true"}, json={"model": "tinyllama"})
    resources = alice.get("/api/v1/models/resources").json()
    assert resources["process"]["rss_bytes"] > 0 and "cpu_percent" in resources["process"]
    assert [model["name"] for model in resources["loaded_models"]] == ["tinyllama:latest"]
    assert resources["vram_bytes"] > 0 and resources["model_count"] >= 1
    assert resources["gpu"]["capacity"] == 1 and resources["gpu"]["holders"] == []


@pytest.mark.parametrize(
    "name", ["tinyllama:latest", "tinyllama", "ns/model:tag", "hf.co/org/repo:Q4_K_M", "localhost:5000/ns/m:v1"]
)
def test_valid_model_names(api: Api, name: str) -> None:
    response = api.as_("alice").post("/api/v1/models/validate-version", json={"name": name})
    assert response.status_code == 200 and response.json()["valid"] is True


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "cannot be empty"),
        ("a/b/c/d", "more than two '/'"),
        ("model:tag:extra", "':' may appear only once"),
        ("my.ns/model", "no '.'"),
        ("-model", "model '-model'"),
        ("model:" + "x" * 81, "1-80 characters"),
    ],
)
def test_invalid_model_names_name_the_rule(api: Api, name: str, rule: str) -> None:
    response = api.as_("alice").post("/api/v1/models/validate-version", json={"name": name})
    assert response.status_code == 422
    assert rule in response.json()["error"]["message"]


def test_an_invalid_name_is_refused_before_queueing(api: Api, sim: Simulator) -> None:
    response = api.as_("alice").post("/api/v1/models/load", json={"model": "bad:name:here"})
    assert response.status_code == 422 and "':' may appear only once" in response.json()["error"]["message"]
    assert api.as_("alice").get("/api/ai-agent/jobs").json()["jobs"] == []


def test_the_collection_path_lists_the_models_too(api: Api) -> None:
    alice = api.as_("alice")
    collection = alice.get("/api/v1/models")
    assert collection.status_code == 200
    assert collection.json() == alice.get("/api/v1/models/list").json()


@pytest.mark.parametrize("action", ["load", "unload"])
def test_a_model_ollama_does_not_have_is_refused_at_once(api: Api, sim: Simulator, action: str) -> None:
    alice = api.as_("alice")
    if action == "load":
        response = alice.post("/api/v1/models/load", json={"model": "nosuch:1b"})
    else:
        response = api.as_("admin").delete("/api/v1/models/nosuch:1b/unload")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found" and error["details"] == {"model": "nosuch:1b"}
    assert "'nosuch:1b'" in error["message"] and "model.pull" in error["message"]  # what to do about it
    assert api.as_("admin").get("/api/ai-agent/jobs", params={"all": "true"}).json()["jobs"] == []  # nothing queued
    assert sim.stats()["requests"].get("generate", 0) == 0


def test_load_is_queued_while_ollama_cannot_be_asked(start_api: Callable[..., Api]) -> None:
    """Ollama down is the queue's business: the job waits and retries, as any job does."""
    api = start_api(OLLAMA_BASE_URL=f"http://127.0.0.1:{free_port()}")
    response = api.as_("alice").post("/api/v1/models/load", json={"model": "tinyllama"})
    assert response.status_code == 202 and response.json()["job_id"]
