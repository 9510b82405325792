"""The processor in this process against the Ollama simulator: outcomes, retries, cancel, timeouts."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.services.queue import store
from app.services.queue.processor import Processor
from app.services.realtime.events import Events
from tests.support.jobs import TERMINAL, leases_held, submit
from tests.support.simulator import Simulator
from tests.support.waiting import job_reaches, until


async def test_generate_streams_into_progress_and_completes(
    db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    job = await submit(db)
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "completed", done.error_message
    assert done.result_data is not None and done.result_data["response"]
    assert done.progress["text"] == done.result_data["response"]
    assert done.progress["percent"] == 100
    assert done.result_data["done_reason"] in {"stop", "length"}
    assert sim.stats()["requests"]["generate"] == 1
    assert await leases_held(db) == 0


async def test_chat_completes_with_the_assistant_message(db: asyncpg.Pool, processor: Processor) -> None:
    job = await submit(db, "chat", request={"model": "tinyllama", "messages": [{"role": "user", "content": "hello"}]})
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "completed", done.error_message
    assert done.result_data is not None and done.result_data["message"]["content"] == done.progress["text"]


async def test_busy_twice_then_success_retries_with_growing_gaps(
    db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    processor.settings.retry_backoff_base = 0.2
    sim.fail("busy", 2, endpoints=["generate"])
    job = await submit(db)
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "completed", done.error_message
    assert done.retry_count == 2
    starts = [entry["start"] for entry in sim.stats()["log"] if entry["endpoint"] == "generate"]
    assert len(starts) == 3
    assert starts[2] - starts[1] > starts[1] - starts[0] > 0.1


async def test_unknown_model_fails_at_once_with_ollamas_message(
    db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    job = await submit(db, request={"model": "nosuchmodel", "prompt": "hi"})
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "failed" and done.error_kind == "not_found"
    assert "model 'nosuchmodel' not found" in (done.error_message or "")
    assert done.retry_count == 0 and sim.stats()["requests"]["generate"] == 1


async def test_retries_run_out_then_the_job_fails_with_the_reason(
    db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    sim.fail("error500", 5, endpoints=["generate"])
    job = await submit(db, max_retries=2)
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "failed" and done.retry_count == 2
    assert "500" in (done.error_message or "") and "gave up after 2 retries" in (done.error_message or "")


async def test_a_mid_stream_error_is_retried(db: asyncpg.Pool, processor: Processor, sim: Simulator) -> None:
    sim.fail("midstream", 1, endpoints=["generate"])
    job = await submit(db)
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "completed" and done.retry_count == 1


async def test_cancel_running_job_closes_the_stream_and_frees_the_slot(
    engine: AsyncEngine, db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    sim.configure(token_delay=0.1, tokens=200)
    job = await submit(db)
    await until(lambda: sim.stats()["in_flight"] == 1, what="generation in flight")
    cancelled_at = time.monotonic()
    assert await store.request_cancel(db, job.id, by="alice") == "running"
    done = await job_reaches(db, job.id, TERMINAL, within=5)
    assert time.monotonic() - cancelled_at < 1.0
    assert done.status == "cancelled"
    assert await leases_held(db) == 0
    stats = await until(lambda: _ready(sim, "disconnects"), what="simulator saw the disconnect")
    assert stats["in_flight"] == 0


async def _ready(sim: Simulator, key: str) -> dict | None:
    stats = sim.stats()
    return stats if stats[key] else None


async def test_time_limit_fails_the_job_and_stops_generation(
    db: asyncpg.Pool, processor: Processor, sim: Simulator
) -> None:
    sim.configure(token_delay=0.1, tokens=200)
    job = await submit(db, timeout_seconds=0.5)
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "failed" and done.error_kind == "timeout"
    await until(lambda: _ready(sim, "disconnects"), what="simulator saw the disconnect")
    assert await leases_held(db) == 0


async def test_next_job_is_claimed_as_soon_as_one_ends(db: asyncpg.Pool, processor: Processor, sim: Simulator) -> None:
    jobs = [await submit(db) for _ in range(5)]
    for job in jobs:
        assert (await job_reaches(db, job.id, TERMINAL)).status == "completed"
    stats = sim.stats()
    assert stats["max_in_flight"] == 1 and stats["requests"]["generate"] == 5


async def test_shutdown_requeues_a_running_job_without_using_a_retry(
    engine: AsyncEngine, db: asyncpg.Pool, database: str, sim: Simulator, make_settings: Callable[..., Settings]
) -> None:
    sim.configure(token_delay=0.1, tokens=200)
    proc = Processor(settings=make_settings(ollama_base_url=sim.base_url), engine=engine, database_url=database)
    await proc.start()
    job = await submit(db)
    await job_reaches(db, job.id, {"running"})
    await proc.stop(grace=0.1)
    requeued = await store.get_job(db, job.id)
    assert requeued is not None and requeued.status == "queued" and requeued.retry_count == 0
    assert await leases_held(db) == 0


async def test_a_stalled_stream_counts_as_transient_and_is_retried(
    db: asyncpg.Pool, start_processor: Callable[..., Awaitable[Processor]], sim: Simulator
) -> None:
    await start_processor(ollama_read_timeout=0.3, max_job_retries=1)
    sim.configure(token_delay=1.0, tokens=5)  # Ollama goes silent for longer than the read timeout
    job = await submit(db, max_retries=1)
    done = await job_reaches(db, job.id, TERMINAL, within=30)
    assert done.status == "failed" and done.error_kind == "transient"
    assert done.retry_count == 1, "the stall was retried before giving up"
    assert "did not answer in time" in (done.error_message or "") and "gave up after 1 retries" in (
        done.error_message or ""
    )
    assert await leases_held(db) == 0


async def test_a_cancel_during_the_outcome_write_does_not_lose_the_result(
    db: asyncpg.Pool, processor: Processor, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write of a finished job's outcome cannot be interrupted: a cancel arriving while it is being
    written leaves the job completed, its result kept and its slot free at once."""
    writing, go_on = asyncio.Event(), asyncio.Event()
    real_finish = store.finish

    async def slow_finish(*args: Any, **kwargs: Any) -> store.Finished:
        writing.set()
        await go_on.wait()
        return await real_finish(*args, **kwargs)

    monkeypatch.setattr(store, "finish", slow_finish)
    job = await submit(db)
    await asyncio.wait_for(writing.wait(), 20)
    assert await store.request_cancel(db, job.id, by="alice") == "running"
    await until(lambda: job.id in processor._early_cancels or _cancel_seen(processor, job.id), what="the cancel")
    go_on.set()
    done = await job_reaches(db, job.id, TERMINAL, within=5)
    assert done.status == "completed" and done.result_data and done.result_data["response"]
    assert await leases_held(db) == 0


def _cancel_seen(processor: Processor, job_id: uuid.UUID) -> bool:
    run = processor.running.get(job_id)
    return run is None or run.finishing


async def test_a_cancel_arriving_before_the_job_is_registered_stops_it_at_once(
    db: asyncpg.Pool,
    start_processor: Callable[..., Awaitable[Processor]],
    sim: Simulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cancel NOTIFY that arrives between the claim's commit and the job's registration in the
    processor is remembered and applied: the job stops within a second, not at the next heartbeat."""
    sim.configure(token_delay=0.1, tokens=200)
    real_claim = store.claim
    processor: Processor | None = None

    async def claim_then_cancel(*args: Any, **kwargs: Any) -> store.Claimed | None:
        claimed = await real_claim(*args, **kwargs)
        if claimed is not None:
            assert await store.request_cancel(db, claimed.job.id, by="alice") == "running"
            await until(lambda: claimed.job.id in processor._early_cancels, what="the cancel NOTIFY")  # type: ignore[union-attr]
        return claimed

    monkeypatch.setattr(store, "claim", claim_then_cancel)
    processor = await start_processor(lease_ttl_seconds=30)  # a heartbeat would only look in 10 s
    job = await submit(db)
    cancelled_at = time.monotonic()
    done = await job_reaches(db, job.id, TERMINAL, within=20)
    assert done.status == "cancelled" and time.monotonic() - cancelled_at < 3
    assert await leases_held(db) == 0


async def test_a_job_whose_queue_deadline_passed_never_starts_even_when_a_slot_frees(
    db: asyncpg.Pool, start_processor: Callable[..., Awaitable[Processor]], sim: Simulator
) -> None:
    """The deadline is checked by the claim itself, not only by the sweep."""
    await start_processor(job_processing_interval=60)
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    first = await submit(db)
    await asyncio.to_thread(sim.wait_held, 1)
    late = await submit(db, request={"model": "tinyllama", "prompt": "too late"}, queue_deadline=await _soon(db))
    await until(lambda: _past(db, late.id), what="the queue deadline to pass")
    sim.release()
    assert (await job_reaches(db, first.id, TERMINAL)).status == "completed"
    done = await job_reaches(db, late.id, TERMINAL)
    assert done.status == "failed" and done.error_kind == "queue_timeout"
    prompts = [entry["prompt"] for entry in sim.stats()["log"] if entry["endpoint"] == "generate"]
    assert "too late" not in prompts, "it never reached Ollama"


async def _soon(db: asyncpg.Pool) -> Any:
    return await db.fetchval("SELECT now() + interval '200 milliseconds'")


async def _past(db: asyncpg.Pool, job_id: uuid.UUID) -> bool:
    return bool(await db.fetchval("SELECT queue_deadline < now() FROM ai_jobs WHERE id = $1", job_id))


async def test_without_ollama_hosts_each_processor_runs_the_default_host_as_configured(
    db: asyncpg.Pool, start_processor: Callable[..., Awaitable[Processor]], sim: Simulator
) -> None:
    """No OLLAMA_HOSTS: the default host is this process's OLLAMA_BASE_URL with its MAX_CONCURRENT_JOBS
    slots, as before there were hosts — whatever another process wrote into the hosts table."""
    one = await start_processor(max_concurrent_jobs=1)
    two = await start_processor(max_concurrent_jobs=2)
    assert one.drivers["default"].host.slots == 1 and one.drivers["default"].slots.keys == ["gpu/0"]
    assert two.drivers["default"].host.slots == 2 and two.drivers["default"].slots.keys == ["gpu/0", "gpu/1"]
    assert two.drivers["default"].host.base_url == sim.base_url == one.drivers["default"].host.base_url


async def test_a_load_in_its_own_request_is_counted_in_the_jobs_load_time(
    db: asyncpg.Pool, start_processor: Callable[..., Awaitable[Processor]], sim: Simulator
) -> None:
    """With two slots a cold model is loaded by a request of its own first (one load for both slots); the
    job's load_duration and the host's learned load time include it (they counted 0 loads)."""
    sim.configure(load_delay=0.8)  # a load counts as one when it took over LOADED_AFTER (0.5 s)
    await start_processor(max_concurrent_jobs=2)
    job = await submit(db, model="tinyllama:latest")
    done = await job_reaches(db, job.id, TERMINAL)
    assert done.status == "completed" and done.result_data["load_duration"] >= 0.75e9  # type: ignore[index]
    cost = await db.fetchrow("SELECT loads, load_seconds FROM host_model_costs WHERE model = 'tinyllama:latest'")
    assert cost is not None and cost["loads"] == 1 and cost["load_seconds"] >= 0.75


async def test_a_heartbeat_judges_only_the_runs_it_asked_about(
    db: asyncpg.Pool, engine: AsyncEngine, database: str, make_settings: Callable[..., Settings]
) -> None:
    """A run that started while a heartbeat was in flight (a hand-off, a claim) was not renewed because it
    was not asked about: it must not be stopped as if its lease were gone (`make chaos` found such runs
    stopped and re-queued a moment after they started)."""
    from app.services.queue.processor import Run
    from app.services.queue.progress import ProgressReporter

    processor = Processor(settings=make_settings(), engine=engine, database_url=database)
    await submit(db)
    await submit(db)
    slots = store.Slots(pool="gpu", keys=["gpu/0", "gpu/1"], ttl=30, grace=0, operations={})
    first, second = await store.claim(db, slots, "w"), await store.claim(db, slots, "w")
    assert first is not None and second is not None
    asked = Run(first, None, ProgressReporter(lambda _: None), deadline=0.0)  # type: ignore[arg-type]
    started_meanwhile = Run(second, None, ProgressReporter(lambda _: None), deadline=0.0)  # type: ignore[arg-type]
    sent = time.monotonic()
    started_meanwhile.deadline_sent = sent - 0.01  # its hand-off statement was sent just before the heartbeat
    processor.running = {first.job.id: asked, second.job.id: started_meanwhile}
    renewal = store.Renewal(first.slot, first.job.id, first.job.attempt, cancel_requested=False)
    processor._judge_heartbeat([asked], [renewal], sent)
    assert asked.stop_reason is None and asked.deadline > sent
    assert started_meanwhile.stop_reason is None, "not asked, so not judged"
    processor._judge_heartbeat([asked, started_meanwhile], [renewal], sent)
    assert started_meanwhile.stop_reason == "lease_lost", "asked and not renewed: its lease is gone"
    asked.watchdog.cancel()  # type: ignore[union-attr]


# ---- the next job reserved ahead: its request goes out as the one before ends --------------------------


Reserved = tuple[Processor, store.Job, store.Job]


@pytest.fixture
async def reserved(
    db: asyncpg.Pool,
    start_processor: Callable[..., Awaitable[Processor]],
    sim: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> Reserved:
    """Two of alice's jobs queued before the processor starts; the first runs, held at the stand-in,
    and the second is reserved for its hand-off (by the claim that started the first). The processor's
    INFO log is captured."""
    caplog.set_level(logging.INFO, logger="app.services.queue.processor")
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    first = await submit(db)
    second = await submit(db, request={"model": "tinyllama", "prompt": "second"})
    processor = await start_processor()
    await asyncio.to_thread(sim.wait_held, 1)
    ahead = processor.running[first.id].claimed.ahead
    assert ahead is not None and ahead.id == second.id
    assert await db.fetchval("SELECT reserved_for FROM ai_jobs WHERE id = $1", second.id) == first.id
    return processor, first, second


async def _running_events(db: asyncpg.Pool, job_id: uuid.UUID) -> list[tuple[str, int]]:
    rows = await db.fetch("SELECT status, attempt FROM job_events WHERE job_id = $1 ORDER BY id", job_id)
    return [(row["status"], row["attempt"]) for row in rows]


async def test_the_reserved_next_job_starts_as_the_one_before_ends(
    db: asyncpg.Pool, sim: Simulator, caplog: pytest.LogCaptureFixture, reserved: Reserved
) -> None:
    _, first, second = reserved
    sim.release()
    done = await job_reaches(db, second.id, TERMINAL)
    assert done.status == "completed" and done.attempt == 1, done.error_message
    assert (await store.get_job(db, first.id)).status == "completed"  # type: ignore[union-attr]
    started = f"job {second.id} (generate, alice, no model) started on gpu/0, attempt 1 (its request went out"
    assert started in caplog.text
    assert await _running_events(db, second.id) == [("queued", 0), ("running", 1), ("completed", 1)]
    prompts = [entry["prompt"] for entry in sim.stats()["log"] if entry["endpoint"] == "generate"]
    assert prompts.count("second") == 1 and sim.stats()["max_in_flight"] == 1
    assert await leases_held(db) == 0


async def test_no_early_start_while_a_heartbeat_is_overdue(
    db: asyncpg.Pool,
    sim: Simulator,
    caplog: pytest.LogCaptureFixture,
    reserved: Reserved,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The heartbeat fails (the database away for a moment, or the process was stalled): the running job's
    lease may run out before FINISH could confirm an early start, which would then be stopped with its work
    lost (a chaos run saw one after a SIGSTOP). The reserved job waits for FINISH to hand it the slot."""
    processor, first, second = reserved

    async def unreachable(*_args: object, **_kwargs: object) -> list[store.Renewal]:
        raise OSError("the database is unreachable")

    monkeypatch.setattr(store, "heartbeat", unreachable)
    run = processor.running[first.id]
    await until(lambda: run.deadline - time.monotonic() < processor.ttl / 3, what="a heartbeat overdue")
    sim.release()
    done = await job_reaches(db, second.id, TERMINAL)
    assert done.status == "completed" and done.attempt == 1, done.error_message
    assert f"job {second.id} (generate, alice, no model) started on gpu/0, attempt 1\n" in caplog.text + "\n"
    assert "its request went out" not in caplog.text
    assert await _running_events(db, second.id) == [("queued", 0), ("running", 1), ("completed", 1)]


async def test_a_job_submitted_while_one_streams_is_reserved_and_starts_as_that_one_ends(
    db: asyncpg.Pool,
    start_processor: Callable[..., Awaitable[Processor]],
    sim: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing else was queued when the first job started; bob's job, submitted while it streams, is
    reserved to follow it all the same (on its job_queued wake-up), and its request goes out as the first
    one ends."""
    caplog.set_level(logging.INFO, logger="app.services.queue.processor")
    processor = await start_processor()
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    first = await submit(db)
    await asyncio.to_thread(sim.wait_held, 1)
    assert processor.running[first.id].claimed.ahead is None
    later = await submit(db, user_id="bob", username="bob", request={"model": "tinyllama", "prompt": "later"})
    ahead = await until(lambda: processor.running[first.id].claimed.ahead, what="bob's job reserved")
    assert ahead.id == later.id
    assert await db.fetchval("SELECT reserved_for FROM ai_jobs WHERE id = $1", later.id) == first.id
    sim.release()
    done = await job_reaches(db, later.id, TERMINAL)
    assert done.status == "completed" and done.attempt == 1, done.error_message
    assert f"job {later.id} (generate, bob, no model) started on gpu/0, attempt 1 (its request went out" in caplog.text
    assert await _running_events(db, later.id) == [("queued", 0), ("running", 1), ("completed", 1)]
    assert sim.stats()["max_in_flight"] == 1 and sim.stats()["requests"]["generate"] == 2


def _first_finish_waits(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """The processor's first FINISH runs, then sets `finished` and waits for `go_on` before the processor
    sees its answer: a window in which a test can commit a job the statement's snapshot did not see."""
    finished, go_on = asyncio.Event(), asyncio.Event()
    finish = store.finish

    async def finish_then_wait(*args: Any, **kwargs: Any) -> store.Finished:
        done = await finish(*args, **kwargs)
        if not finished.is_set():
            finished.set()
            await go_on.wait()
        return done

    monkeypatch.setattr(store, "finish", finish_then_wait)
    return finished, go_on


async def test_a_job_queued_while_finish_frees_the_slot_is_claimed_at_once(
    db: asyncpg.Pool,
    start_processor: Callable[..., Awaitable[Processor]],
    sim: Simulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A job committed after the snapshot of the FINISH that finds nothing to hand the slot to: its NOTIFY
    came while the slot was still taken, so it did not wake the claim loop. Once FINISH is back the loop
    looks, rather than leaving the job until the safety-net poll (a minute here)."""
    processor = await start_processor(job_processing_interval=60)
    sim.hold(endpoints=["generate"], after_tokens=1, count=1)
    first = await submit(db)
    await asyncio.to_thread(sim.wait_held, 1)
    finished, go_on = _first_finish_waits(monkeypatch)
    sim.release()
    await finished.wait()
    seen = processor._queued_seen
    later = await submit(db, request={"model": "tinyllama", "prompt": "later"})
    await until(lambda: processor._queued_seen > seen, what="the NOTIFY of the later job")
    go_on.set()
    assert (await job_reaches(db, first.id, TERMINAL)).status == "completed"
    assert (await job_reaches(db, later.id, TERMINAL, within=10)).status == "completed"


async def test_a_job_queued_while_finish_hands_the_slot_on_is_reserved_after_the_job_it_started(
    db: asyncpg.Pool,
    sim: Simulator,
    caplog: pytest.LogCaptureFixture,
    reserved: Reserved,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """bob's job is committed after the snapshot of the FINISH that confirms alice's early start, and its
    NOTIFY arrives before FINISH returns, when no run here can take a reservation (the one finishing, the
    other not yet confirmed). It is reserved once FINISH is back, and starts early after alice's second."""
    processor, _first, second = reserved
    finished, go_on = _first_finish_waits(monkeypatch)
    sim.configure(token_delay=0.02, tokens=100)  # the second job streams for 2 s: time enough to reserve
    sim.release()
    await finished.wait()
    seen = processor._queued_seen
    bobs = await submit(db, user_id="bob", username="bob", request={"model": "tinyllama", "prompt": "bob"})
    await until(lambda: processor._queued_seen > seen, what="the NOTIFY of bob's job")
    go_on.set()
    ahead = await until(
        lambda: (run := processor.running.get(second.id)) is not None and run.claimed.ahead, what="bob's job reserved"
    )
    assert ahead.id == bobs.id
    sim.configure(token_delay=0.005, tokens=8)
    done = await job_reaches(db, bobs.id, TERMINAL)
    assert done.status == "completed" and done.attempt == 1, done.error_message
    assert f"job {bobs.id} (generate, bob, no model) started on gpu/0, attempt 1 (its request went out" in caplog.text
    assert sim.stats()["max_in_flight"] == 1


async def test_the_page_gets_the_whole_answer_of_a_job_whose_request_went_out_early(
    db: asyncpg.Pool, sim: Simulator, monkeypatch: pytest.MonkeyPatch, reserved: Reserved
) -> None:
    """Tokens an early start produced before FINISH confirmed it are held, then sent after its `running`
    update: the page rebuilds the text from each chunk's offset, and none may be lost or sent twice."""
    recorder = Recorder()
    processor, _first, second = reserved
    processor.events = Events(recorder, db, capacity=1, progress_interval=0.01)
    processor.events.start()
    gate = asyncio.Event()
    finish = store.finish

    async def finish_when_let(*args: Any, **kwargs: Any) -> store.Finished:
        await gate.wait()
        return await finish(*args, **kwargs)

    monkeypatch.setattr(store, "finish", finish_when_let)
    sim.configure(token_delay=0.02, tokens=40)
    try:
        sim.release()
        await until(lambda: second.id in processor.running and processor.running[second.id].held, what="held tokens")
        gate.set()  # FINISH confirms the early start while it still streams
        done = await job_reaches(db, second.id, TERMINAL)
        assert done.status == "completed" and done.result_data is not None
        await until(lambda: _rebuilt(recorder, second.id) == done.result_data["response"], what="the whole text")
        updates = [name for name, data, _ in recorder.sent if data.get("job_id") == str(second.id)]
        assert updates.index("job:update") < updates.index("job:progress"), "running, then its text"
    finally:
        await processor.events.stop(grace=1)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], list[str] | None]] = []

    async def __call__(self, event: str, data: dict[str, Any], rooms: list[str] | None) -> None:
        self.sent.append((event, data, rooms))


def _rebuilt(recorder: Recorder, job_id: uuid.UUID) -> str:
    """The text as the page puts it together: each chunk replaces what it had from the chunk's offset on."""
    text = ""
    for name, data, _ in recorder.sent:
        if name == "job:progress" and data["job_id"] == str(job_id):
            text = text[: data["offset"]] + data["text"]
    return text


async def test_a_fairer_job_queued_while_one_runs_takes_over_the_reservation(
    db: asyncpg.Pool, sim: Simulator, caplog: pytest.LogCaptureFixture, reserved: Reserved
) -> None:
    """bob submits while alice's first job runs and her second is reserved: bob's job is the fairer next one
    (he has not had a turn), so it is reserved instead, and its request goes out as alice's first ends;
    alice's second follows it. No request is sent in vain."""
    processor, first, second = reserved
    bobs = await submit(db, user_id="bob", username="bob", request={"model": "tinyllama", "prompt": "bob"})
    await until(lambda: (processor.running[first.id].claimed.ahead or second).id == bobs.id, what="bob's reserved")
    assert await db.fetchval("SELECT reserved_for FROM ai_jobs WHERE id = $1", second.id) is None
    sim.release()
    for job in (first, second, bobs):
        assert (await job_reaches(db, job.id, TERMINAL)).status == "completed"
    started = {job.id: (await store.get_job(db, job.id)).started_at for job in (first, second, bobs)}  # type: ignore[union-attr]
    assert started[first.id] < started[bobs.id] < started[second.id]
    assert f"job {bobs.id} (generate, bob, no model) started on gpu/0, attempt 1 (its request went out" in caplog.text
    assert "its early start was stopped" not in caplog.text
    assert sim.stats()["requests"]["generate"] == 3 and sim.stats()["max_in_flight"] == 1


async def test_a_fairer_job_that_came_too_late_to_be_reserved_takes_the_slot_and_the_early_start_leaves_no_trace(
    db: asyncpg.Pool,
    sim: Simulator,
    caplog: pytest.LogCaptureFixture,
    reserved: Reserved,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """bob's job comes as alice's first ends, too late to move the reservation (here: reserving again keeps
    alice's second), but before FINISH picks: the hand-off goes to bob (he has not had a turn). Alice's
    second job, whose request went out early, is stopped before bob's starts; it runs after bob's as its
    first attempt, with nothing of the stopped start in its history. The stand-in never had two requests
    at once."""
    _, first, second = reserved
    reserve_ahead = store.reserve_ahead

    async def too_late(conn: Any, slots: store.Slots, running: store.Job) -> store.Job | None:
        return second if running.id == first.id else await reserve_ahead(conn, slots, running)

    monkeypatch.setattr(store, "reserve_ahead", too_late)
    bob = store.NewJob(
        user_id="bob", username="bob", job_type="generate", request_data={"model": "tinyllama", "prompt": "bob"}
    )
    bobs = (await store.enqueue(db, bob, quota=10)).job
    sim.release()
    for job in (first, second, bobs):
        assert (await job_reaches(db, job.id, TERMINAL)).status == "completed"
    started = {job.id: (await store.get_job(db, job.id)).started_at for job in (first, second, bobs)}  # type: ignore[union-attr]
    assert started[first.id] < started[bobs.id] < started[second.id]
    assert f"job {second.id}: its early start was stopped" in caplog.text
    assert await _running_events(db, second.id) == [("queued", 0), ("running", 1), ("completed", 1)]
    assert (await store.get_job(db, second.id)).attempt == 1  # type: ignore[union-attr]
    assert sim.stats()["max_in_flight"] == 1
    assert await leases_held(db) == 0


async def test_a_reserved_job_cancelled_while_queued_never_runs(
    db: asyncpg.Pool, sim: Simulator, caplog: pytest.LogCaptureFixture, reserved: Reserved
) -> None:
    _, first, second = reserved
    assert await store.request_cancel(db, second.id, by="alice") == "cancelled"
    sim.release()
    assert (await job_reaches(db, first.id, TERMINAL)).status == "completed"
    await until(lambda: f"job {second.id}: its early start was stopped" in caplog.text, what="the early start stopped")
    done = await store.get_job(db, second.id)
    assert done is not None and done.status == "cancelled" and done.result_data is None and done.attempt == 0
    assert await _running_events(db, second.id) == [("queued", 0), ("cancelled", 0)]
    assert await leases_held(db) == 0
