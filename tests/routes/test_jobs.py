"""The job endpoints over real HTTP: `aijobs serve` as a subprocess on this test's database."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.api import Api
from tests.support.simulator import Simulator

GENERATE = {"job_type": "generate", "request": {"model": "tinyllama", "prompt": "Why is the sky blue?"}}


def wait_for_status(client: httpx.Client, job_id: str, statuses: set[str], within: float = 20) -> dict:
    deadline = time.monotonic() + within
    while True:
        body = client.get(f"/api/ai-agent/job/{job_id}/status").json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"job stuck in {body['status']}"
        time.sleep(0.02)


def test_submit_answers_202_and_status_shows_the_generated_text(api: Api) -> None:
    alice = api.as_("alice")
    response = alice.post("/api/ai-agent/jobs", json=GENERATE)
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True and body["status"] == "queued" and body["position"] == 0
    assert body["lock"]["capacity"] == 1 and "holders" in body["lock"]
    done = wait_for_status(alice, body["job_id"], {"completed", "failed"})
    assert done["status"] == "completed", done["error_message"]
    assert done["progress"]["text"] and done["progress"]["percent"] == 100
    result = alice.get(f"/api/ai-agent/job/{body['job_id']}/result").json()
    assert result["result"]["response"] == done["progress"]["text"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"job_type": "generate", "request": {"model": "tinyllama"}}, "prompt: Field required"),
        ({"job_type": "paint", "request": {}}, "Unknown job_type 'paint'"),
        ({"job_type": "generate"}, "body.request"),
        ({**GENERATE, "priority": 99}, "body.priority"),
        ({**GENERATE, "colour": "red"}, "body.colour"),
        ({**GENERATE, "locks": ["gpu/0"]}, "GPU slot"),
        ({**GENERATE, "details": "a\u0000b"}, "body.details: text with a NUL character"),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_queues_nothing(
    api: Api, sim: Simulator, engine: AsyncEngine, body: dict, field: str
) -> None:
    response = api.as_("alice").post("/api/ai-agent/jobs", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and field in error["message"]
    assert sim.stats()["requests"]["generate"] == 0
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM ai_jobs"))).scalar() == 0


def test_an_unpaired_surrogate_is_422_naming_the_field(api: Api) -> None:
    """JSON may escape a lone surrogate (`\\ud800`); PostgreSQL cannot store it: refused, not a 500."""
    body = json.dumps({"job_type": "generate", "request": {"prompt": "\ud800"}})  # ASCII, escaped
    response = api.as_("alice").post("/api/ai-agent/jobs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "body.request.prompt" in response.json()["error"]["message"]


def test_unknown_job_is_404_in_the_error_shape(api: Api) -> None:
    response = api.as_("alice").get("/api/ai-agent/job/00000000-0000-0000-0000-000000000000/status")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_idempotency_key_returns_the_same_job_per_user(api: Api) -> None:
    headers = {"Idempotency-Key": "report-5"}
    first = api.as_("alice").post("/api/ai-agent/jobs", json=GENERATE, headers=headers).json()
    second = api.as_("alice").post("/api/ai-agent/jobs", json=GENERATE, headers=headers).json()
    other_user = api.as_("bob").post("/api/ai-agent/jobs", json=GENERATE, headers=headers).json()
    assert first["job_id"] == second["job_id"] != other_user["job_id"]
    assert "already submitted" in second["message"]


def test_result_is_409_until_the_job_ends(api: Api, sim: Simulator) -> None:
    sim.configure(token_delay=0.05, tokens=200)
    alice = api.as_("alice")
    job_id = alice.post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"]
    wait_for_status(alice, job_id, {"running"})
    early = alice.get(f"/api/ai-agent/job/{job_id}/result")
    assert early.status_code == 409
    assert early.json()["error"]["details"]["status"] == "running"
    alice.post(f"/api/ai-agent/job/{job_id}/cancel")


def test_cancel_a_running_job_then_cancelling_again_is_409(api: Api, sim: Simulator) -> None:
    sim.configure(token_delay=0.1, tokens=300)
    alice = api.as_("alice")
    job_id = alice.post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"]
    wait_for_status(alice, job_id, {"running"})
    response = alice.post(f"/api/ai-agent/job/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] in {"running", "cancelled"}
    done = wait_for_status(alice, job_id, {"cancelled", "completed", "failed"}, within=5)
    assert done["status"] == "cancelled"
    again = alice.post(f"/api/ai-agent/job/{job_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_retry_requeues_a_failed_job_and_keeps_its_history(api: Api, sim: Simulator, engine: AsyncEngine) -> None:
    alice = api.as_("alice")
    missing = {"job_type": "generate", "request": {"model": "no-such-model", "prompt": "hi"}}
    job_id = alice.post("/api/ai-agent/jobs", json=missing).json()["job_id"]
    failed = wait_for_status(alice, job_id, {"failed"})
    assert "not found" in failed["error_message"]
    assert alice.post(f"/api/ai-agent/job/{job_id}/retry").json()["status"] == "queued"
    again = wait_for_status(alice, job_id, {"failed"})
    assert again["attempt"] == 2
    completed = alice.post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"]
    wait_for_status(alice, completed, {"completed"})
    refused = alice.post(f"/api/ai-agent/job/{completed}/retry")
    assert refused.status_code == 409 and "only failed or cancelled" in refused.json()["error"]["message"]


def test_list_filters_and_paginates_newest_first(api: Api, sim: Simulator) -> None:
    alice, bob = api.as_("alice"), api.as_("bob")
    sim.configure(token_delay=0.001, tokens=2)
    ids = [alice.post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"] for _ in range(5)]
    bob.post("/api/ai-agent/jobs", json=GENERATE)
    for job_id in ids:
        wait_for_status(alice, job_id, {"completed"})
    first = alice.get("/api/ai-agent/jobs", params={"limit": 3}).json()
    second = alice.get("/api/ai-agent/jobs", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    listed = [job["job_id"] for job in first["jobs"] + second["jobs"]]
    assert listed == list(reversed(ids)) and second["next_cursor"] is None  # bob's job is not in alice's list
    assert alice.get("/api/ai-agent/jobs", params={"status": "failed"}).json()["jobs"] == []
    assert len(alice.get("/api/ai-agent/jobs", params={"type": "generate"}).json()["jobs"]) == 5
    assert alice.get("/api/ai-agent/jobs", params={"type": "embed"}).json()["jobs"] == []
    assert len(alice.get("/api/ai-agent/jobs", params={"job_type": "generate"}).json()["jobs"]) == 5
    assert alice.get("/api/ai-agent/jobs", params={"job_type": "embed"}).json()["jobs"] == [], "job_type filters too"
    unknown = alice.get("/api/ai-agent/jobs", params={"job_type": "generat"})
    assert unknown.status_code == 422 and "generate" in unknown.json()["error"]["message"]
    everyone = api.as_("admin").get("/api/ai-agent/jobs", params={"all": "true"}).json()["jobs"]
    assert len(everyone) == 6
    assert alice.get("/api/ai-agent/jobs", params={"status": "done"}).status_code == 422
    assert alice.get("/api/ai-agent/jobs", params={"cursor": "nonsense"}).status_code == 422


def test_stats_count_by_status_and_type_with_times(api: Api, sim: Simulator) -> None:
    alice = api.as_("alice")
    ok = [alice.post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"] for _ in range(3)]
    bad = alice.post("/api/ai-agent/jobs", json={"job_type": "generate", "request": {"model": "nope", "prompt": "x"}})
    for job_id in [*ok, bad.json()["job_id"]]:
        wait_for_status(alice, job_id, {"completed", "failed"})
    stats = alice.get("/api/ai-agent/jobs/stats").json()
    assert (stats["total"], stats["completed"], stats["failed"]) == (4, 3, 1)
    assert stats["success_rate"] == 0.75
    assert stats["run_seconds"]["p50"] > 0 and stats["wait_seconds"]["p95"] >= 0
    assert stats["by_type"]["generate"]["completed"] == 3 and stats["queue_length"] == 0
    assert api.as_("bob").get("/api/ai-agent/jobs/stats").json()["total"] == 0


def test_wait_returns_the_result_when_it_finishes_in_time(api: Api, sim: Simulator) -> None:
    response = api.as_("alice").post("/api/ai-agent/jobs", params={"wait": 20}, json=GENERATE)
    assert response.status_code == 200
    assert response.json()["status"] == "completed" and response.json()["result"]["response"]
    sim.configure(token_delay=0.1, tokens=300)
    slow = api.as_("alice").post("/api/ai-agent/jobs", params={"wait": 0.3}, json=GENERATE)
    assert slow.status_code == 202
    api.as_("alice").post(f"/api/ai-agent/job/{slow.json()['job_id']}/cancel")


def test_any_wait_is_capped_at_max_wait_seconds_and_the_answer_says_the_wait_used(
    start_api: Callable[..., Api],
) -> None:
    api = start_api(processor=False, MAX_WAIT_SECONDS="0.5")  # nothing runs: every wait runs out
    started = time.monotonic()
    response = api.as_("alice").post("/api/ai-agent/jobs", params={"wait": 999}, json=GENERATE)
    assert response.status_code == 202, response.text
    assert response.json()["wait_seconds"] == 0.5
    assert time.monotonic() - started < 10
    shorter = api.as_("alice").post("/api/ai-agent/create-canvas", params={"wait": 0.1}, json={"instructions": "x"})
    assert shorter.status_code == 202 and shorter.json()["wait_seconds"] == 0.1
    assert api.as_("alice").post("/api/ai-agent/jobs", json=GENERATE).json()["wait_seconds"] is None
    negative = api.as_("alice").post("/api/ai-agent/jobs", params={"wait": -1}, json=GENERATE)
    assert negative.status_code == 422 and "wait" in negative.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/ai-agent/jobs", {"job_type": "canvas", "request": {"instructions": "x", "model": "no such model!!"}}),
        ("/api/ai-agent/create-canvas", {"instructions": "x", "model": "no such model!!"}),
        (
            "/api/ai-agent/reports",
            {"title": "t", "sections": [{"heading": "h", "instructions": "i"}], "model": "no such model!!"},
        ),
        ("/api/ai-agent/jobs", {"job_type": "model.pull", "request": {"model": "no such model!!"}}),
        ("/api/ai-agent/jobs", {"job_type": "generate", "request": {"model": "Bad Name!", "prompt": "x"}}),
        ("/api/ai-agent/jobs", {"job_type": "chat", "request": {"model": "Bad Name!", "messages": []}}),
        ("/api/ai-agent/jobs", {"job_type": "embed", "request": {"model": "Bad Name!", "input": "x"}}),
    ],
)
async def test_an_invalid_model_name_is_refused_at_submission(
    api: Api, engine: AsyncEngine, path: str, body: dict
) -> None:
    response = api.as_("alice").post(path, json=body)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "model" in message and "invalid model name" in message
    assert "'no such model!!'" in message or "'Bad Name!'" in message
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM ai_jobs"))).scalar() == 0


def test_only_admins_raise_priority(api: Api) -> None:
    refused = api.as_("alice").post("/api/ai-agent/jobs", json={**GENERATE, "priority": 5})
    assert refused.status_code == 403 and "priority" in refused.json()["error"]["message"]
    assert api.as_("admin").post("/api/ai-agent/jobs", json={**GENERATE, "priority": 5}).status_code == 202
    assert api.as_("alice").post("/api/ai-agent/jobs", json={**GENERATE, "priority": -3}).status_code == 202


def test_quota_of_queued_jobs_is_429_with_retry_after(start_api: Callable[..., Api]) -> None:
    api = start_api(processor=False, MAX_QUEUED_PER_USER="2")
    alice = api.as_("alice")
    assert [alice.post("/api/ai-agent/jobs", json=GENERATE).status_code for _ in range(2)] == [202, 202]
    refused = alice.post("/api/ai-agent/jobs", json=GENERATE)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "MAX_QUEUED_PER_USER=2" in refused.json()["error"]["message"]
    assert api.as_("bob").post("/api/ai-agent/jobs", json=GENERATE).status_code == 202  # per user


def test_request_body_over_the_limit_is_413(start_api: Callable[..., Api]) -> None:
    api = start_api(processor=False, MAX_REQUEST_BYTES="2048")
    big = {"job_type": "generate", "request": {"model": "tinyllama", "prompt": "x" * 5000}}
    response = api.as_("alice").post("/api/ai-agent/jobs", json=big)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"

    def chunks():  # no Content-Length: the limit is enforced while reading
        yield b'{"job_type": "generate", "request": {"model": "tinyllama", "prompt": "'
        yield b"x" * 5000
        yield b'"}}'

    chunked = api.as_("alice").post(
        "/api/ai-agent/jobs", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413


def test_health_reports_database_processor_and_ollama(api: Api) -> None:
    for path in ("/health", "/api/ai-agent/health"):
        body = httpx.get(api.base_url + path).json()  # no token needed
        assert body["status"] == "healthy" and body["database"] == "connected"
        processor = body["job_processor"]
        assert processor["running"] is True and processor["max_concurrent_jobs"] == 1
        assert processor["active_jobs"] == 0 and processor["processing_interval"] == 2.0
        assert body["ollama"]["reachable"] is True
        assert "url" not in body["ollama"], "Ollama's internal address is not shown to anyone"
    for who, shown in (("alice", False), ("admin", True)):
        ollama = api.as_(who).get("/api/ai-agent/health").json()["ollama"]
        assert ("url" in ollama) is shown, f"{who} {'sees' if shown else 'does not see'} Ollama's address"


def test_health_says_when_ollama_is_unreachable_but_still_takes_jobs(start_api: Callable[..., Api]) -> None:
    api = start_api(OLLAMA_BASE_URL="http://127.0.0.1:9")
    response = httpx.get(api.base_url + "/health")
    assert response.status_code == 200 and response.json()["ollama"]["reachable"] is False


async def test_retention_deletes_old_finished_jobs_only(api: Api, engine: AsyncEngine) -> None:
    alice = api.as_("alice")
    job_id = alice.post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"]
    wait_for_status(alice, job_id, {"completed"})
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE ai_jobs SET finished_at = now() - interval '30 days'"))
        # A queued and a running job, both old, must survive.
        await conn.execute(
            text(
                "INSERT INTO ai_jobs (user_id, username, job_type, status, created_at, run_at) VALUES "
                "('alice', 'alice', 'generate', 'queued', now() - interval '60 days', now() + interval '1 day'), "
                "('alice', 'alice', 'generate', 'running', now() - interval '60 days', now())"
            )
        )
    assert api.as_("alice").post("/api/ai-agent/admin/cleanup").status_code == 403
    cleaned = api.as_("admin").post("/api/ai-agent/admin/cleanup").json()
    assert cleaned["deleted"] == 1
    async with engine.connect() as conn:
        left = (await conn.execute(text("SELECT status FROM ai_jobs ORDER BY status"))).scalars().all()
    assert left == ["queued", "running"]


def test_metrics_in_prometheus_format(api: Api) -> None:
    alice = api.as_("alice")
    job_id = alice.post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"]
    wait_for_status(alice, job_id, {"completed"})
    body = httpx.get(api.base_url + "/metrics").text
    assert 'aijobs_jobs{job_type="generate",status="completed"} 1.0' in body
    assert "aijobs_queue_length 0.0" in body
    assert "aijobs_job_run_seconds_count 1.0" in body and "aijobs_gpu_busy_seconds_total" in body
    # per GPU host: the one default host ran the job
    assert 'aijobs_host_up{host="default"} 1.0' in body and 'aijobs_host_jobs_total{host="default"} 1.0' in body
    assert 'aijobs_host_busy_seconds_total{host="default"}' in body


def test_forty_concurrent_submits_against_a_quota_of_five_accept_exactly_five(start_api: Callable[..., Api]) -> None:
    api = start_api(MAX_QUEUED_PER_USER="5", MAX_CONCURRENT_JOBS="1")
    admin = api.as_("admin")
    assert admin.post("/api/ai-agent/lock/maintenance", json={"ttl_seconds": 600}).status_code == 201  # GPU held
    alice = api.as_("alice")
    with ThreadPoolExecutor(max_workers=40) as pool:
        codes = list(pool.map(lambda _: alice.post("/api/ai-agent/jobs", json=GENERATE).status_code, range(40)))
    assert codes.count(202) == 5 and codes.count(429) == 35
    queued = alice.get("/api/ai-agent/jobs", params={"status": "queued"}).json()["jobs"]
    assert len(queued) == 5
    cancelled = queued[0]["job_id"]
    alice.post(f"/api/ai-agent/job/{cancelled}/cancel")
    assert alice.post("/api/ai-agent/jobs", json=GENERATE).status_code == 202  # the freed place is taken
    refused = alice.post(f"/api/ai-agent/job/{cancelled}/retry")
    assert refused.status_code == 429 and refused.headers["Retry-After"], "a retry counts against the quota too"


def test_an_idempotency_key_reused_with_another_request_is_refused_naming_the_key(api: Api) -> None:
    alice = api.as_("alice")
    headers = {"Idempotency-Key": "case-5"}
    first = alice.post("/api/ai-agent/jobs", json=GENERATE, headers=headers).json()
    other = {"job_type": "generate", "request": {"model": "tinyllama", "prompt": "Something else"}}
    refused = alice.post("/api/ai-agent/jobs", json=other, headers=headers)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert "case-5" in error["message"] and error["details"]["job_id"] == first["job_id"]


def test_positions_of_concurrent_submits_are_the_order_the_jobs_start(api: Api, sim: Simulator) -> None:
    """20 submissions at once behind a held GPU: once they have returned, their positions are 0…19, no
    two alike, and the jobs start in that order."""
    admin, alice = api.as_("admin"), api.as_("alice")
    admin.post("/api/ai-agent/lock/maintenance", json={"ttl_seconds": 600})
    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = list(pool.map(lambda _: alice.post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"], range(20)))
    positions = {job_id: alice.get(f"/api/ai-agent/job/{job_id}/status").json()["position"] for job_id in ids}
    assert sorted(positions.values()) == list(range(20))
    admin.delete("/api/ai-agent/lock/maintenance/0")
    started = sorted(ids, key=lambda job_id: wait_for_status(alice, job_id, {"completed"})["started_at"])
    assert started == sorted(ids, key=positions.__getitem__)


def test_only_admins_pull_models_through_the_job_api(api: Api) -> None:
    """A pull changes every user's model store: as on /api/pull, a user's job is refused with why."""
    refused = api.as_("alice").post("/api/ai-agent/jobs", json={"job_type": "model.pull", "request": {"model": "x"}})
    assert refused.status_code == 403 and "only admins" in refused.json()["error"]["message"]
