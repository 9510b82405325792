"""The job endpoints over real HTTP: `aijobs serve` as a subprocess on this test's database."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.processes import start_server
from tests.support.simulator import Simulator

GENERATE = {"job_type": "generate", "request": {"model": "tinyllama", "prompt": "Why is the sky blue?"}}


@pytest.fixture
def api(sim: Simulator, service_env: dict[str, str]) -> Iterator[httpx.Client]:
    server, base_url = start_server({**service_env, "OLLAMA_BASE_URL": sim.base_url})
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client
    server.stop()


def wait_for_status(api: httpx.Client, job_id: str, statuses: set[str], within: float = 20) -> dict:
    deadline = time.monotonic() + within
    while True:
        body = api.get(f"/api/ai-agent/job/{job_id}/status").json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"job stuck in {body['status']}"
        time.sleep(0.02)


def test_submit_answers_202_and_status_shows_the_generated_text(api: httpx.Client) -> None:
    response = api.post("/api/ai-agent/jobs", json=GENERATE)
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True and body["status"] == "queued" and body["position"] == 0
    done = wait_for_status(api, body["job_id"], {"completed", "failed"})
    assert done["status"] == "completed", done["error_message"]
    assert done["progress"]["text"] and done["progress"]["percent"] == 100
    result = api.get(f"/api/ai-agent/job/{body['job_id']}/result").json()
    assert result["result"]["response"] == done["progress"]["text"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"job_type": "generate", "request": {"prompt": "no model"}}, "model: Field required"),
        ({"job_type": "paint", "request": {}}, "Unknown job_type 'paint'"),
        ({"job_type": "generate"}, "body.request"),
        ({**GENERATE, "priority": 99}, "body.priority"),
        ({**GENERATE, "colour": "red"}, "body.colour"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_queues_nothing(
    api: httpx.Client, sim: Simulator, body: dict, field: str
) -> None:
    response = api.post("/api/ai-agent/jobs", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and field in error["message"]
    assert sim.stats()["total_requests"] == 0


def test_unknown_job_is_404_in_the_error_shape(api: httpx.Client) -> None:
    response = api.get("/api/ai-agent/job/00000000-0000-0000-0000-000000000000/status")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_idempotency_key_returns_the_same_job(api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "report-5"}
    first = api.post("/api/ai-agent/jobs", json=GENERATE, headers=headers).json()
    second = api.post("/api/ai-agent/jobs", json=GENERATE, headers=headers).json()
    assert first["job_id"] == second["job_id"]
    assert "already submitted" in second["message"]


def test_cancel_a_running_job_then_cancelling_again_is_409(api: httpx.Client, sim: Simulator) -> None:
    sim.configure(token_delay=0.1, tokens=300)
    job_id = api.post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"]
    wait_for_status(api, job_id, {"running"})
    response = api.post(f"/api/ai-agent/job/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] in {"running", "cancelled"}
    done = wait_for_status(api, job_id, {"cancelled", "completed", "failed"}, within=5)
    assert done["status"] == "cancelled"
    again = api.post(f"/api/ai-agent/job/{job_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_health_reports_database_and_processor(api: httpx.Client) -> None:
    for path in ("/health", "/api/ai-agent/health"):
        body = api.get(path).json()
        assert body["status"] == "healthy" and body["database"] == "connected"
        processor = body["job_processor"]
        assert processor["running"] is True and processor["max_concurrent_jobs"] == 1
        assert processor["active_jobs"] == 0
