"""Placement: which queued job a host's claim takes. A host prefers jobs whose model it has loaded; a cold
job is left to a host that has its model loaded and will be free sooner than a load takes — but never for
longer than the aging bound; labels and GPU memory restrict where a job may run; a host that drains or is
down takes nothing; finishing a job teaches the host's costs and marks its model loaded."""

from __future__ import annotations

import asyncpg

from app.services.fleet import hosts as fleet_hosts
from app.services.queue import store

GIB = 2**30


def slots_of(host: str, *, fifo: bool = False, bypass: float = 120.0, slots: int = 1) -> store.Slots:
    return store.Slots(
        pool="gpu",
        keys=fleet_hosts.slot_keys(host, slots, "gpu"),
        ttl=30,
        grace=0,
        operations={},
        host=host,
        placement=store.Placement(fifo=fifo, bypass=bypass, load_seconds=10, run_seconds=30),
    )


async def add_host(
    db: asyncpg.Pool, name: str, loaded: list[str] = (), *, labels: list[str] = (), memory: int | None = None
) -> None:
    await fleet_hosts.add(db, name, f"http://{name}:11434", 1, memory, list(labels))
    await db.execute("UPDATE hosts SET loaded_models = $2 WHERE name = $1", name, list(loaded))


async def enqueue(db: asyncpg.Pool, model: str | None, user: str = "alice", **fields: object) -> store.Job:
    new = store.NewJob(
        user_id=user, username=user, job_type="generate", request_data={"prompt": "x"}, model=model, **fields
    )  # type: ignore[arg-type]
    return (await store.enqueue(db, new, quota=100)).job


async def claim(db: asyncpg.Pool, host: str, **placement: object) -> store.Job | None:
    claimed = await store.claim(db, slots_of(host, **placement), f"worker-{host}")  # type: ignore[arg-type]
    return claimed.job if claimed is not None else None


async def test_a_host_takes_the_job_whose_model_it_has_loaded_before_an_older_cold_one(db: asyncpg.Pool) -> None:
    await add_host(db, "box-a", ["llama3:latest"])
    await add_host(db, "box-b", ["qwen:latest"])
    qwen = await enqueue(db, "qwen:latest")
    llama = await enqueue(db, "llama3:latest", user="bob")
    first = await claim(db, "box-a")
    assert first is not None and first.id == llama.id and first.host == "box-a"
    second = await claim(db, "box-b")
    assert second is not None and second.id == qwen.id and second.host == "box-b"


async def test_fifo_ignores_what_is_loaded(db: asyncpg.Pool) -> None:
    await add_host(db, "box-a", ["llama3:latest"])
    qwen = await enqueue(db, "qwen:latest")
    await enqueue(db, "llama3:latest", user="bob")
    taken = await claim(db, "box-a", fifo=True)
    assert taken is not None and taken.id == qwen.id


async def test_a_cold_job_is_left_to_a_free_host_that_has_its_model_loaded(db: asyncpg.Pool) -> None:
    await add_host(db, "box-a", ["llama3:latest"])
    await add_host(db, "box-b", [])
    job = await enqueue(db, "llama3:latest")
    assert await claim(db, "box-b") is None, "box-a has it loaded and a free slot: a load on box-b would waste it"
    taken = await claim(db, "box-a")
    assert taken is not None and taken.id == job.id


async def test_a_cold_job_goes_to_a_cold_host_when_the_warm_one_is_busy_for_longer_than_a_load(
    db: asyncpg.Pool,
) -> None:
    await add_host(db, "box-a", ["llama3:latest"])
    await add_host(db, "box-b", [])
    await enqueue(db, "llama3:latest")
    waiting = await enqueue(db, "llama3:latest", user="bob")
    assert await claim(db, "box-a") is not None  # busy now, expected to run 30 s (> a 10 s load)
    taken = await claim(db, "box-b")
    assert taken is not None and taken.id == waiting.id


async def test_no_job_waits_for_a_warm_host_longer_than_the_aging_bound(db: asyncpg.Pool) -> None:
    await add_host(db, "box-a", ["llama3:latest"])
    await add_host(db, "box-b", [])
    job = await enqueue(db, "llama3:latest")
    assert await claim(db, "box-b", bypass=120) is None
    await db.execute("UPDATE ai_jobs SET run_at = now() - interval '121 seconds' WHERE id = $1", job.id)
    taken = await claim(db, "box-b", bypass=120)
    assert taken is not None and taken.id == job.id, "waited past the bound: it runs on the first free host"


async def test_an_aged_job_goes_before_younger_warm_ones(db: asyncpg.Pool) -> None:
    await add_host(db, "box-a", ["llama3:latest"])
    old = await enqueue(db, "qwen:latest")
    await enqueue(db, "llama3:latest", user="bob")
    await db.execute("UPDATE ai_jobs SET run_at = now() - interval '200 seconds' WHERE id = $1", old.id)
    taken = await claim(db, "box-a", bypass=120)
    assert taken is not None and taken.id == old.id


async def test_labels_decide_where_a_job_may_run_and_host_pins_it(db: asyncpg.Pool) -> None:
    await add_host(db, "box-a", labels=["a100"])
    await add_host(db, "box-b")
    needs_a100 = await enqueue(db, "llama3:latest", requires=("a100",))
    pinned = await enqueue(db, "llama3:latest", user="bob", requires=("host:box-b",))
    on_b = await claim(db, "box-b")
    assert on_b is not None and on_b.id == pinned.id, "box-b has no a100 label: it takes bob's pinned job"
    taken = await claim(db, "box-a")
    assert taken is not None and taken.id == needs_a100.id


async def test_a_model_larger_than_the_hosts_gpu_memory_is_not_placed_there(db: asyncpg.Pool) -> None:
    await add_host(db, "small", memory=4 * GIB)
    await db.execute("""UPDATE hosts SET installed = '{"big:latest": 8589934592}' WHERE name = 'small'""")
    await add_host(db, "large", memory=24 * GIB)
    job = await enqueue(db, "big:latest")
    await db.execute("UPDATE ai_jobs SET run_at = now() - interval '1 hour' WHERE id = $1", job.id)  # aged
    assert await claim(db, "small") is None, "it does not fit in 4 GiB, however long it waited"
    taken = await claim(db, "large")
    assert taken is not None and taken.id == job.id


async def test_a_draining_or_down_host_takes_nothing_until_it_is_back(db: asyncpg.Pool) -> None:
    await add_host(db, "box-a")
    await enqueue(db, "llama3:latest")
    await fleet_hosts.set_draining(db, "box-a", True)
    assert await claim(db, "box-a") is None
    await fleet_hosts.set_draining(db, "box-a", False)
    await db.execute("UPDATE hosts SET reachable = false WHERE name = 'box-a'")
    assert await claim(db, "box-a") is None
    await db.execute("UPDATE hosts SET reachable = true WHERE name = 'box-a'")
    assert await claim(db, "box-a") is not None


async def test_a_draining_host_hands_its_slot_to_nobody(db: asyncpg.Pool) -> None:
    await add_host(db, "box-a")
    await enqueue(db, "llama3:latest")
    await enqueue(db, "llama3:latest", user="bob")
    claimed = await store.claim(db, slots_of("box-a"), "w")
    assert claimed is not None
    await fleet_hosts.set_draining(db, "box-a", True)
    done = await store.finish(
        db, claimed, store.Outcome("completed", result={}), worker_id="w", slots=slots_of("box-a"), hand_on=True
    )
    assert done.job is not None and done.job.status == "completed" and done.next is None
    assert await db.fetchval("SELECT count(*) FROM leases") == 0


async def test_finishing_teaches_the_hosts_costs_and_marks_the_model_loaded(db: asyncpg.Pool) -> None:
    await add_host(db, "box-a")
    await enqueue(db, "llama3:latest")
    claimed = await store.claim(db, slots_of("box-a"), "w")
    assert claimed is not None
    result = {"load_duration": 3_000_000_000, "eval_count": 100, "eval_duration": 2_000_000_000}
    await store.finish(
        db, claimed, store.Outcome("completed", result=result), worker_id="w", slots=slots_of("box-a"), hand_on=False
    )
    cost = await db.fetchrow("SELECT * FROM host_model_costs WHERE host = 'box-a' AND model = 'llama3:latest'")
    assert cost is not None and cost["loads"] == 1 and cost["load_seconds"] == 3.0 and cost["jobs"] == 1
    assert cost["tokens_per_second"] == 50.0 and cost["run_seconds"] is not None
    assert await db.fetchval("SELECT loaded_models FROM hosts WHERE name = 'box-a'") == ["llama3:latest"]


async def test_a_request_without_a_model_is_placed_by_the_default_model(db: asyncpg.Pool) -> None:
    new = store.NewJob(
        user_id="alice", username="alice", job_type="generate", request_data={"prompt": "x"}, fallback_model="TinyLlama"
    )
    job = (await store.enqueue(db, new, quota=10)).job
    assert job.model == "tinyllama:latest"
    await db.execute("""INSERT INTO system_settings (key, value) VALUES ('active_model', '"qwen:7b"')""")
    job = (await store.enqueue(db, new, quota=10)).job
    assert job.model == "qwen:7b"
    no_model = (await store.enqueue(db, store.NewJob("alice", "alice", "training", {}), quota=10)).job
    assert no_model.model is None


async def test_a_host_that_just_loaded_a_model_hands_its_slot_to_a_job_of_that_model(db: asyncpg.Pool) -> None:
    """The hand-off's pick must see the model the finishing job just loaded (found by bench/fleet_bench.py:
    it read the host's models as they were before the statement, took a cold job by user turn and
    threw the fresh model out after one job)."""
    await add_host(db, "box-a", [])
    await enqueue(db, "gemma3:4b", user="carol")
    first = await store.claim(db, slots_of("box-a"), "w")
    assert first is not None
    await enqueue(db, "qwen:latest", user="bob")  # bob has not been served: his turn comes first
    llama = await enqueue(db, "gemma3:4b", user="alice")
    done = await store.finish(
        db, first, store.Outcome("completed", result={"load_duration": 5e9}), worker_id="w", slots=slots_of("box-a"),
        hand_on=True,
    )  # fmt: skip
    assert done.next is not None and done.next.job.id == llama.id, "gemma3:4b is loaded now: its job goes next"


async def test_a_model_being_loaded_on_another_host_counts_as_loaded_there(db: asyncpg.Pool) -> None:
    """Both hosts loaded the same model at once: a job whose model another host is loading right now is
    left for it (while it would be free sooner than a load here takes)."""
    await add_host(db, "box-a", [])
    await add_host(db, "box-b", [])
    await db.execute("UPDATE hosts SET slots = 2 WHERE name = 'box-a'")
    await enqueue(db, "llama3:latest")
    assert await store.claim(db, slots_of("box-a", slots=2), "w") is not None  # box-a loads llama3 now
    await db.execute("UPDATE leases SET expected_end = now() + interval '2 seconds'")
    waiting = await enqueue(db, "llama3:latest", user="bob")
    assert await claim(db, "box-b") is None, "box-a has it (loading) and frees a slot before box-b could load it"
    taken = await store.claim(db, slots_of("box-a", slots=2), "w")
    assert taken is not None and taken.job.id == waiting.id


async def test_past_the_aging_bound_the_oldest_job_goes_first_warm_or_not(db: asyncpg.Pool) -> None:
    await add_host(db, "box-a", ["llama3:latest"])
    old_cold = await enqueue(db, "qwen:latest")
    young_warm = await enqueue(db, "llama3:latest")
    await db.execute("UPDATE ai_jobs SET run_at = now() - interval '300 seconds' WHERE id = $1", old_cold.id)
    await db.execute("UPDATE ai_jobs SET run_at = now() - interval '200 seconds' WHERE id = $1", young_warm.id)
    taken = await claim(db, "box-a", bypass=120)
    assert taken is not None and taken.id == old_cold.id, "both waited past the bound: the older goes first"


async def test_a_load_that_does_not_fit_beside_the_loaded_models_evicts_the_least_recent(db: asyncpg.Pool) -> None:
    await add_host(db, "box-a", ["llama3:latest", "qwen:latest"], memory=5 * GIB + GIB // 2)
    await db.execute(
        """UPDATE hosts SET installed = '{"gemma3:4b": 4294967296, "llama3:latest": 1073741824,
                                          "qwen:latest": 1073741824}' WHERE name = 'box-a'"""
    )
    await enqueue(db, "gemma3:4b")
    claimed = await store.claim(db, slots_of("box-a"), "w")
    assert claimed is not None
    await store.finish(
        db, claimed, store.Outcome("completed", result={}), worker_id="w", slots=slots_of("box-a"), hand_on=False
    )
    assert await db.fetchval("SELECT loaded_models FROM hosts WHERE name = 'box-a'") == ["gemma3:4b", "llama3:latest"]
