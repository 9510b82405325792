"""Acceptance for a GPU fleet: several Ollama hosts (each a stand-in process with its own slots and load
times) behind one queue, driven by several `aijobs worker` processes. No host ever runs more generations
than its slots; every job runs exactly once; a host that dies has its job retried on another and is
marked down; a host an admin repairs is marked up and takes work again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from app.services.fleet import hosts as fleet_hosts
from app.services.fleet.prober import Prober
from app.services.queue import store
from tests.support.processes import ServiceProcess, start_worker
from tests.support.simulator import Simulator, start_simulator
from tests.support.waiting import job_reaches, until

MODELS = ["tinyllama:latest", "llama3.2:latest", "qwen2.5:0.5b"]


@pytest.fixture
def three_hosts() -> Iterator[list[Simulator]]:
    sims = [start_simulator(token_delay=0.003, tokens=5, load_ms=40) for _ in range(3)]
    yield sims
    for sim in sims:
        sim.stop()


def hosts_setting(sims: list[Simulator], slots: list[int]) -> str:
    return "; ".join(
        f"box-{n} {sim.base_url} slots={count}" for n, (sim, count) in enumerate(zip(sims, slots, strict=True))
    )


async def enqueue(
    db: asyncpg.Pool, n: int, model: str, user: str, retries: int = 5, requires: tuple[str, ...] = ()
) -> store.Job:
    new = store.NewJob(
        user_id=user,
        username=user,
        job_type="generate",
        request_data={"model": model, "prompt": f"job {n}"},
        model=model,
        max_retries=retries,
        requires=requires,
    )
    return (await store.enqueue(db, new, quota=1000)).job


async def test_three_workers_on_three_hosts_keep_each_hosts_cap_and_run_every_job_once(
    db: asyncpg.Pool, service_env: dict[str, str], three_hosts: list[Simulator]
) -> None:
    slots = [1, 1, 2]
    env = {**service_env, "OLLAMA_HOSTS": hosts_setting(three_hosts, slots), "HOST_PROBE_INTERVAL": "0.5"}
    env["LEASE_TTL_SECONDS"] = "10"  # three workers, three hosts and PostgreSQL share two cores
    workers: list[ServiceProcess] = await asyncio.gather(*(asyncio.to_thread(start_worker, env) for _ in range(3)))
    try:
        jobs = [await enqueue(db, n, MODELS[n % 3], f"user{n % 4}") for n in range(150)]

        async def all_done() -> bool:  # the trace's jobs (look-ahead loads may run besides them)
            return await db.fetchval(
                "SELECT count(*) FROM ai_jobs WHERE status = 'completed' AND id = ANY($1::uuid[])", [j.id for j in jobs]
            ) == len(jobs)

        await until(all_done, within=180, what="150 jobs completed")
    finally:
        for worker in workers:
            worker.stop()
    prompts: list[str] = []
    for sim, cap in zip(three_hosts, slots, strict=True):
        stats = sim.stats()
        assert stats["max_in_flight"] <= cap, f"{sim.base_url} ran {stats['max_in_flight']} at once with {cap} slot(s)"
        prompts += [entry["prompt"] for entry in stats["log"] if entry["endpoint"] == "generate" and entry["prompt"]]
    # Each job ran once — or again only after its run was stopped and re-queued on the record (a worker
    # starved of CPU past its lease stops its own run: at-least-once, never two at a time).
    runs = {f"job {n}": prompts.count(f"job {n}") for n in range(150)}
    assert all(count >= 1 for count in runs.values()), "every job ran on some host"
    rerun = {prompt for prompt, count in runs.items() if count > 1}
    requeued = {
        row["prompt"]
        for row in await db.fetch(
            "SELECT DISTINCT j.request_data->>'prompt' AS prompt FROM ai_jobs j JOIN job_events e ON e.job_id = j.id "
            "WHERE e.status = 'queued' AND e.attempt > 0"
        )
    }
    assert rerun <= requeued, f"ran twice without being re-queued: {sorted(rerun - requeued)}"
    used = {row["host"] for row in await db.fetch("SELECT DISTINCT host FROM ai_jobs")}
    assert used == {"box-0", "box-1", "box-2"}
    assert await db.fetchval("SELECT count(*) FROM leases") == 0
    assert await db.fetchval("SELECT coalesce(sum(queued), 0) FROM pool_users WHERE user_id LIKE 'user%'") == 0


async def test_a_host_that_dies_has_its_job_retried_elsewhere_is_marked_down_and_comes_back_when_repaired(
    db: asyncpg.Pool, service_env: dict[str, str]
) -> None:
    doomed, spare = start_simulator(token_delay=0.003, tokens=5), start_simulator(token_delay=0.003, tokens=5)
    repaired: Simulator | None = None
    env = {**service_env, "OLLAMA_HOSTS": f"box-a {doomed.base_url}; box-b {spare.base_url}"}
    env["HOST_PROBE_INTERVAL"] = "0.3"
    env["SCHEDULER"] = "fifo"  # either host may take the first job; we pin it to box-a below
    worker = await asyncio.to_thread(start_worker, env)
    try:
        doomed.hold(endpoints=["generate"], after_tokens=1, count=1)
        # Until the prober has marked box-a down, a retry may land on it again and fail at once.
        job = await enqueue(db, 0, "tinyllama:latest", "alice", retries=20, requires=("host:box-a",))
        await asyncio.to_thread(doomed.wait_held, 1)
        await db.execute("UPDATE ai_jobs SET requires = '{}' WHERE id = $1", job.id)  # now it may run anywhere
        doomed.stop()  # the GPU box dies mid-answer
        done = await job_reaches(db, job.id, {"completed", "failed"}, within=60)
        assert done.status == "completed" and done.host == "box-b", done.error_message

        async def marked_down() -> bool:
            return not (await fleet_hosts.get(db, "box-a")).reachable

        await until(marked_down, within=30, what="box-a marked down by the prober")
        assert (await fleet_hosts.get(db, "box-a")).state == "down"
        # Down: nothing is placed there, even a job that may run only there waits.
        pinned = await enqueue(db, 1, "tinyllama:latest", "bob", requires=("host:box-a",))
        # The admin repairs it (a new address); the prober sees it answer and it takes the waiting job.
        repaired = start_simulator(token_delay=0.003, tokens=5)
        await fleet_hosts.update(db, "box-a", base_url=repaired.base_url)
        finished = await job_reaches(db, pinned.id, {"completed", "failed"}, within=60)
        assert finished.status == "completed" and finished.host == "box-a"
        assert (await fleet_hosts.get(db, "box-a")).state == "up"
        assert spare.stats()["max_in_flight"] == 1
    finally:
        worker.stop()
        for sim in (doomed, spare, repaired):
            if sim is not None:
                sim.stop()


async def test_the_prober_marks_a_host_down_after_repeated_failures_and_up_when_it_answers(
    db: asyncpg.Pool, sim: Simulator
) -> None:
    await fleet_hosts.add(db, "gone", "http://127.0.0.1:9", 1, None, [])
    await fleet_hosts.add(db, "here", sim.base_url, 1, None, [])
    changed: list[str] = []
    prober = Prober(db, interval=60, on_change=changed.append)
    for _ in range(2):
        assert (await prober.run_once())["gone"] is True, "one failure is not enough: a blip is not an outage"
    assert (await prober.run_once()) == {"default": False, "gone": False, "here": True}
    assert sorted(changed) == ["default", "gone"]
    here = await fleet_hosts.get(db, "here")
    assert here.version and here.installed and "tinyllama:latest" in here.installed
    await fleet_hosts.update(db, "gone", base_url=sim.base_url)
    assert (await prober.run_once())["gone"] is True
    assert sorted(changed) == ["default", "gone", "gone"]


async def test_a_drained_host_finishes_its_running_job_and_takes_no_new_one(
    db: asyncpg.Pool, service_env: dict[str, str]
) -> None:
    box_a, box_b = start_simulator(token_delay=0.003, tokens=5), start_simulator(token_delay=0.003, tokens=5)
    env = {**service_env, "OLLAMA_HOSTS": f"box-a {box_a.base_url}; box-b {box_b.base_url}", "SCHEDULER": "fifo"}
    worker = await asyncio.to_thread(start_worker, env)
    try:
        box_a.hold(endpoints=["generate"], after_tokens=1, count=1)
        running = await enqueue(db, 0, "tinyllama:latest", "alice", requires=("host:box-a",))
        await asyncio.to_thread(box_a.wait_held, 1)
        await fleet_hosts.set_draining(db, "box-a", True)
        later = [await enqueue(db, n, "tinyllama:latest", f"user{n}") for n in range(1, 6)]
        for job in later:
            done = await job_reaches(db, job.id, {"completed", "failed"}, within=60)
            assert done.status == "completed" and done.host == "box-b", "nothing new starts on a draining host"
        assert (await store.get_job(db, running.id)).status == "running"  # type: ignore[union-attr]
        box_a.release()
        finished = await job_reaches(db, running.id, {"completed", "failed"}, within=60)
        assert finished.status == "completed" and finished.host == "box-a" and finished.attempt == 1
        assert box_a.stats()["requests"].get("generate") == 1
    finally:
        worker.stop()
        box_a.stop()
        box_b.stop()


async def test_a_job_goes_only_to_a_host_that_has_its_model(db: asyncpg.Pool, service_env: dict[str, str]) -> None:
    """Hosts holding different models: a job for a model only box-b has must not land on an idle box-a,
    whose Ollama would answer "model not found" and fail it. A model no host has still ends at once,
    with Ollama's 404, instead of waiting in the queue forever."""
    box_a, box_b = start_simulator(token_delay=0.003, tokens=5), start_simulator(token_delay=0.003, tokens=5)
    async with httpx.AsyncClient(base_url=box_b.base_url) as http:
        copied = await http.post("/api/copy", json={"source": "tinyllama", "destination": "only-on-b"})
    assert copied.status_code == 200
    env = {**service_env, "OLLAMA_HOSTS": f"box-a {box_a.base_url}; box-b {box_b.base_url}", "SCHEDULER": "fifo"}
    env["HOST_PROBE_INTERVAL"] = "0.5"
    worker = await asyncio.to_thread(start_worker, env)
    try:

        async def probed() -> bool:
            hosts = {host.name: host for host in await fleet_hosts.all_hosts(db)}
            return bool(hosts["box-a"].installed) and "only-on-b:latest" in hosts["box-b"].installed

        await until(probed, within=30, what="both hosts probed, with their models")
        jobs = [await enqueue(db, n, "only-on-b:latest", f"user{n}", retries=0) for n in range(4)]
        for job in jobs:
            done = await job_reaches(db, job.id, {"completed", "failed"}, within=60)
            assert done.status == "completed" and done.host == "box-b", done.error_message
        assert box_a.stats()["requests"]["generate"] == 0, "box-a was never asked for a model it lacks"
        nowhere = await enqueue(db, 9, "nowhere:latest", "user9", retries=0)
        ended = await job_reaches(db, nowhere.id, {"completed", "failed"}, within=60)
        assert ended.status == "failed" and "not found" in (ended.error_message or "")
    finally:
        worker.stop()
        box_a.stop()
        box_b.stop()
