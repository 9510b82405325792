"""The topology Railway runs: two API replicas (no processor) and one separate `aijobs worker`,
all on one database, with the Ollama simulator as the GPU."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from tests.routes.test_jobs import wait_for_status
from tests.support.api import Api
from tests.support.processes import ServiceProcess, start_worker
from tests.support.simulator import Simulator
from tests.support.sockets import connect
from tests.support.waiting import until

TERMINAL = {"completed", "failed", "cancelled"}


def generate(prompt: str) -> dict:
    return {"job_type": "generate", "request": {"model": "tinyllama", "prompt": prompt}}


@pytest.fixture
def worker(service_env: dict[str, str], sim: Simulator) -> Iterator[ServiceProcess]:
    process = start_worker({**service_env, "OLLAMA_BASE_URL": sim.base_url})
    yield process
    process.stop()


async def test_two_replicas_and_a_worker_share_one_gpu_slot(
    start_api: Callable[..., Api], worker: ServiceProcess, sim: Simulator
) -> None:
    sim.configure(token_delay=0.02, tokens=15)
    # The first generation stops after one token until it is cancelled: the test acts on a job it knows is
    # running, however fast the others are (a 0.3 s job could otherwise finish before its cancel).
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    a, b = start_api(processor=False), start_api(processor=False)
    sockets = {
        "alice@a": await connect(a.base_url, a.tokens["alice"]),
        "alice@b": await connect(b.base_url, b.tokens["alice"]),
        "admin@b": await connect(b.base_url, b.tokens["admin"]),
    }
    try:
        submitted: list[tuple[str, str]] = []  # (owner, job id)
        for n in range(6):
            replica, owner = (a, "alice") if n % 2 == 0 else (b, "bob")
            response = replica.as_(owner).post("/api/ai-agent/jobs", json=generate(f"job {n}"))
            assert response.status_code == 202
            submitted.append((owner, response.json()["job_id"]))

        # Cancel a queued job (submitted on A by alice) from replica B: one job at most runs, and it is held.
        last_owner, last_job = submitted[4]
        assert b.as_(last_owner).post(f"/api/ai-agent/job/{last_job}/cancel").json()["status"] == "cancelled"
        # ... and the running one (held mid-answer) from the replica it was not submitted on.
        await asyncio.to_thread(sim.wait_held, 1)
        running_owner, running_job = next(
            (owner, job)
            for owner, job in submitted
            if a.as_(owner).get(f"/api/ai-agent/job/{job}/status").json()["status"] == "running"
        )
        assert a.as_(running_owner).post(f"/api/ai-agent/job/{running_job}/cancel").status_code == 200

        final = {
            job: wait_for_status((a if n % 2 else b).as_(owner), job, TERMINAL, within=60)["status"]
            for n, (owner, job) in enumerate(submitted)
        }
        assert final[last_job] == "cancelled" and final[running_job] == "cancelled"
        assert sorted(final.values()) == ["cancelled"] * 2 + ["completed"] * 4
        stats = sim.stats()
        assert stats["max_in_flight"] == 1, "one GPU slot across two replicas and a worker"
        assert stats["disconnects"] >= 1, "the cancelled running job stopped on the GPU"

        alice_jobs = [job for owner, job in submitted if owner == "alice"]
        for name in ("alice@a", "alice@b"):
            await until(
                lambda name=name: all(sockets[name].job_ended(job) for job in alice_jobs),
                20,
                f"{name} to see each of alice's jobs end",
            )
            assert all(sockets[name].of_job(job) == [] for owner, job in submitted if owner == "bob")
        await until(lambda: all(sockets["admin@b"].job_ended(job) for _, job in submitted), 20, "admin sees all")
        progressed = {data["job_id"] for name, data in sockets["alice@b"].events if name == "job:progress"}
        assert progressed & set(alice_jobs), "progress from the worker reaches a replica's clients"
    finally:
        for client in sockets.values():
            await client.close()
