"""The queue's SQL against a real PostgreSQL: enqueue, claim order, slot cap, hand-off, fencing, rescue,
cancel, quotas and queue positions."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import asyncpg
import pytest

from app import db as app_db
from app.services.queue import sql, store

SLOTS = store.Slots(pool="gpu", keys=["gpu/0"], ttl=30, grace=0, operations={"generate": "AI Text Generation"})


def slots(capacity: int = 1, grace: float = 0) -> store.Slots:
    return store.Slots(
        pool="gpu", keys=[f"gpu/{n}" for n in range(capacity)], ttl=30, grace=grace, operations=SLOTS.operations
    )


def new_job(user: str = "alice", **fields: object) -> store.NewJob:
    values: dict = {"user_id": user, "username": user, "job_type": "generate", "request_data": {"prompt": "x"}}
    values.update(fields)
    return store.NewJob(**values)


async def enqueue(db: asyncpg.Pool, job: store.NewJob, quota: int = 100) -> store.Job:
    return (await store.enqueue(db, job, quota=quota)).job


async def claim(db: asyncpg.Pool, capacity: int = 1, worker: str = "w1", grace: float = 0) -> store.Claimed | None:
    return await store.claim(db, slots(capacity, grace), worker)


async def finish(
    db: asyncpg.Pool, claimed: store.Claimed, outcome: store.Outcome | None = None, hand_on: bool = False
) -> store.Finished:
    return await store.finish(
        db,
        claimed,
        outcome or store.Outcome("completed", result={"ok": True}, progress={}),
        worker_id="w1",
        slots=slots(),
        hand_on=hand_on,
    )


async def expire_leases(db: asyncpg.Pool, seconds_ago: float = 1) -> None:
    """Stand-in for time passing with no heartbeat (a crashed worker), without sleeping."""
    await db.execute("UPDATE leases SET expires_at = now() - make_interval(secs => $1)", seconds_ago)


async def queued_count(db: asyncpg.Pool, user: str = "alice") -> int:
    return int(await db.fetchval("SELECT queued FROM pool_users WHERE user_id = $1", user))


async def test_enqueue_returns_a_queued_job_with_its_request(db: asyncpg.Pool) -> None:
    job = await enqueue(db, new_job(request_data={"model": "tinyllama", "prompt": "hi"}))
    assert job.status == "queued"
    assert job.request_data == {"model": "tinyllama", "prompt": "hi"}
    assert job.attempt == 0


async def test_same_idempotency_key_returns_the_same_job(db: asyncpg.Pool) -> None:
    first = await store.enqueue(db, new_job(idempotency_key="k1"), quota=10)
    second = await store.enqueue(db, new_job(idempotency_key="k1", request_data={"other": 1}), quota=10)
    other_user = await store.enqueue(db, new_job(user="bob", idempotency_key="k1"), quota=10)
    assert first.created and not second.created
    assert second.job.id == first.job.id and second.job.request_data == {"prompt": "x"}
    assert other_user.created and other_user.job.id != first.job.id
    assert await queued_count(db) == 1, "a replay is not counted against the quota"


async def test_concurrent_submissions_with_one_key_make_one_job(db: asyncpg.Pool) -> None:
    async def submit() -> uuid.UUID:
        return (await store.enqueue(db, new_job(idempotency_key="same"), quota=10)).job.id

    ids = await asyncio.gather(*(submit() for _ in range(8)))
    assert len(set(ids)) == 1


async def test_the_quota_holds_under_concurrent_submissions(db: asyncpg.Pool) -> None:
    """40 submissions at once against a quota of 5: the statement that inserts refuses the rest."""

    async def submit() -> bool:
        try:
            await store.enqueue(db, new_job(), quota=5)
            return True
        except store.QuotaExceeded:
            return False

    accepted = await asyncio.gather(*(submit() for _ in range(40)))
    assert sum(accepted) == 5
    assert await db.fetchval("SELECT count(*) FROM ai_jobs") == 5
    assert await queued_count(db) == 5


async def test_a_manual_retry_respects_the_quota_and_gets_a_fresh_retry_budget(db: asyncpg.Pool) -> None:
    job = await enqueue(db, new_job(max_retries=1), quota=1)
    claimed = await claim(db)
    assert claimed is not None
    await finish(db, claimed, store.Outcome("failed", message="gave up after 1 retries", error_kind="transient"))
    await db.execute("UPDATE ai_jobs SET retry_count = 1 WHERE id = $1", job.id)
    await enqueue(db, new_job(), quota=1)  # the user's one queued place is taken again
    try:
        await store.retry_ended(db, job.id, by="alice", quota=1)
        raise AssertionError("a retry over the quota must be refused")
    except store.QuotaExceeded:
        pass
    retried = await store.retry_ended(db, job.id, by="alice", quota=2)
    assert retried is not None and retried.status == "queued" and retried.retry_count == 0
    assert await queued_count(db) == 2


async def test_claim_marks_running_and_takes_the_slot(db: asyncpg.Pool) -> None:
    job = await enqueue(db, new_job(details="Case: ACME Breach (ID: 5)"))
    claimed = await claim(db)
    assert claimed is not None and claimed.job.id == job.id and claimed.slot == "gpu/0"
    assert (claimed.job.status, claimed.job.attempt, claimed.job.worker_id) == ("running", 1, "w1")
    lease = await db.fetchrow("SELECT key, holder, attempt, job_id, worker_id, operation FROM leases")
    assert tuple(lease) == ("gpu/0", str(job.id), 1, job.id, "w1", "AI Text Generation")
    assert await queued_count(db) == 0


async def test_no_free_slot_means_no_claim(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job())
    await enqueue(db, new_job())
    assert await claim(db) is not None
    assert await claim(db) is None
    assert await db.fetchval("SELECT count(*) FROM ai_jobs WHERE status = 'queued'") == 1


async def test_finishing_frees_the_slot_for_the_next_job(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job())
    await enqueue(db, new_job())
    first = await claim(db)
    assert first is not None and (await finish(db, first)).job is not None
    second = await claim(db)
    assert second is not None and second.job.id != first.job.id
    history = await db.fetch("SELECT holder, end_reason FROM lease_history ORDER BY id")
    assert [tuple(row) for row in history] == [(str(first.job.id), "released"), (str(second.job.id), None)]


async def test_finishing_hands_the_slot_to_the_next_job_in_the_same_statement(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job())
    waiting = await enqueue(db, new_job("bob"))
    first = await claim(db)
    assert first is not None
    done = await finish(db, first, hand_on=True)
    assert done.job is not None and done.job.status == "completed"
    assert done.next is not None and done.next.job.id == waiting.id and done.next.slot == "gpu/0"
    assert (done.next.job.status, done.next.job.attempt) == ("running", 1)
    lease = await db.fetchrow("SELECT key, job_id, attempt FROM leases")
    assert tuple(lease) == ("gpu/0", waiting.id, 1)
    history = await db.fetch("SELECT holder, end_reason FROM lease_history ORDER BY id")
    assert [tuple(row) for row in history] == [(str(first.job.id), "released"), (str(waiting.id), None)]
    last = await finish(db, done.next, hand_on=True)
    assert last.next is None and await db.fetchval("SELECT count(*) FROM leases") == 0


async def test_many_concurrent_claimers_never_exceed_capacity(db: asyncpg.Pool) -> None:
    for _ in range(30):
        await enqueue(db, new_job())
    for capacity in (1, 3):
        claims = await asyncio.gather(*(claim(db, capacity, worker=f"w{n}") for n in range(20)))
        running = [claimed for claimed in claims if claimed is not None]
        assert len(running) == capacity
        for claimed in running:
            assert (await finish(db, claimed)).job is not None


async def test_concurrent_claimers_fill_every_free_slot(db: asyncpg.Pool) -> None:
    """With 4 slots and 4 claimers at once, no claimer gives up while a slot is free: each tries
    another free slot when one is being taken (previously it tried only the first free one)."""
    for _ in range(10):
        await enqueue(db, new_job())
    for _ in range(5):
        claims = await asyncio.gather(*(claim(db, 4, worker=f"w{n}") for n in range(4)))
        running = [claimed for claimed in claims if claimed is not None]
        assert len(running) == 4 and len({claimed.slot for claimed in running}) == 4
        for claimed in running:
            await finish(db, claimed)
        await db.execute("UPDATE ai_jobs SET status = 'queued', attempt = attempt WHERE status = 'completed'")
        await db.execute("UPDATE pool_users SET queued = (SELECT count(*) FROM ai_jobs WHERE status = 'queued')")


async def test_priority_first_then_the_user_who_waited_longest_then_age(db: asyncpg.Pool) -> None:
    a1 = await enqueue(db, new_job("alice"))
    a2 = await enqueue(db, new_job("alice"))
    b1 = await enqueue(db, new_job("bob"))
    urgent = await enqueue(db, new_job("carol", priority=5))
    order = []
    for _ in range(4):
        claimed = await claim(db)
        assert claimed is not None
        order.append(claimed.job.id)
        await finish(db, claimed)
    # carol's priority wins; alice's first job is oldest; then bob, who has not had the GPU, before alice again.
    assert order == [urgent.id, a1.id, b1.id, a2.id]


@pytest.mark.parametrize("priorities", ["one", "several"])
async def test_queue_positions_are_the_order_the_claim_takes_jobs(db: asyncpg.Pool, priorities: str) -> None:
    """Positions told by the status are exactly the claim's order, fairness between users included,
    with no two jobs sharing a place. With one priority queued, the counts come from `pool_users` and
    the queue is not read (JOB_VIEW); with several, from the queued jobs."""
    had_turn = await enqueue(db, new_job("carol"))  # carol has had a turn, and goes after those who have not
    claimed = await claim(db)
    assert claimed is not None and claimed.job.id == had_turn.id
    await finish(db, claimed)
    users = ("alice", "alice", "carol", "alice", "bob", "carol", "bob", "erin", "alice")
    jobs = [await enqueue(db, new_job(user)) for user in users]
    if priorities == "several":
        jobs.append(await enqueue(db, new_job("dave", priority=3)))
    positions = {}
    for job in jobs:
        place = await store.place(db, job.id)
        assert place is not None
        positions[job.id] = place.position
    assert sorted(positions.values()) == list(range(len(jobs)))
    order = []
    while (claimed := await claim(db)) is not None:
        order.append(claimed.job.id)
        await finish(db, claimed)
    assert order == sorted(positions, key=lambda job_id: positions[job_id])


async def test_a_retry_waits_for_its_run_at(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job())
    claimed = await claim(db)
    assert claimed is not None
    retry = store.Outcome("retry", message="Ollama answered 503", delay=60)
    assert (await finish(db, claimed, retry)).job is not None
    assert await claim(db) is None
    assert await store.next_run_at(db, "gpu") is not None
    retried = await store.get_job(db, claimed.job.id)
    assert retried is not None and (retried.status, retried.retry_count, retried.error_kind) == (
        "queued",
        1,
        "transient",
    )
    assert await queued_count(db) == 1


async def test_a_transient_failure_racing_a_cancel_ends_cancelled_not_queued(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job())
    claimed = await claim(db)
    assert claimed is not None
    assert await store.request_cancel(db, claimed.job.id, by="alice") == "running"
    done = await finish(db, claimed, store.Outcome("retry", message="Ollama answered 503", delay=0), hand_on=True)
    assert done.job is not None and done.job.status == "cancelled" and done.job.error_kind == "cancelled"
    assert done.next is None, "a cancelled job never starts again"
    assert await queued_count(db) == 0


async def test_the_fence_rejects_a_late_write_from_a_lost_attempt(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job())
    old = await claim(db, worker="old")
    assert old is not None
    await expire_leases(db)
    assert await store.rescue_lost_jobs(db) == [(old.job.id, "queued")]
    new = await claim(db, worker="new")
    assert new is not None and new.job.id == old.job.id and new.job.attempt == old.job.attempt + 1
    assert (await finish(db, old, store.Outcome("completed", result={"stale": True}))).job is None
    assert not await store.write_progress(db, [(old.job.id, old.job.attempt, {"text": "stale"})])
    renewed = await store.heartbeat(db, "new", 30, [(new.job.id, new.job.attempt)])
    assert [(r.job_id, r.attempt) for r in renewed] == [(new.job.id, new.job.attempt)]
    assert (await finish(db, new)).job is not None
    done = await store.get_job(db, old.job.id)
    assert done is not None and done.status == "completed" and done.result_data == {"ok": True}


async def test_an_expired_lease_cannot_be_renewed(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job())
    assert await claim(db) is not None
    claimed = await store.get_job(db, (await db.fetchval("SELECT job_id FROM leases")))
    assert claimed is not None
    await expire_leases(db)
    assert await store.heartbeat(db, "w1", 30, [(claimed.id, claimed.attempt)]) == []


async def test_an_expired_job_lease_stays_untouchable_for_its_grace(db: asyncpg.Pool) -> None:
    """A runner stops its own work before its lease expires; the grace covers a slow one: neither the
    rescuer nor another claimer touches the job or its slot until the grace has passed too."""
    await enqueue(db, new_job())
    await enqueue(db, new_job("bob"))
    first = await claim(db, grace=60)
    assert first is not None
    await expire_leases(db, seconds_ago=5)
    assert await store.rescue_lost_jobs(db) == []
    assert await claim(db, grace=60) is None
    await expire_leases(db, seconds_ago=61)
    assert await store.rescue_lost_jobs(db) == [(first.job.id, "queued")]
    assert await claim(db) is not None


async def test_rescue_fails_a_lost_job_whose_retries_are_used_up(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job(max_retries=0))
    claimed = await claim(db)
    assert claimed is not None
    await expire_leases(db)
    assert await store.rescue_lost_jobs(db) == [(claimed.job.id, "failed")]
    lost = await store.get_job(db, claimed.job.id)
    assert lost is not None and lost.error_kind == "lost" and "stopped renewing" in (lost.error_message or "")
    assert await db.fetchval("SELECT count(*) FROM leases") == 0
    assert [row["end_reason"] for row in await db.fetch("SELECT end_reason FROM lease_history")] == ["expired"]


async def test_cancel_a_queued_job_at_once_and_a_running_one_through_its_worker(db: asyncpg.Pool) -> None:
    running = await enqueue(db, new_job())
    waiting = await enqueue(db, new_job())
    assert (await claim(db)) is not None
    assert await store.request_cancel(db, waiting.id, by="alice") == "cancelled"
    assert await store.request_cancel(db, running.id, by="alice") == "running"
    assert await store.request_cancel(db, waiting.id, by="alice") is None
    [renewal] = await store.heartbeat(db, "w1", 30, [(running.id, 1)])
    assert renewal.job_id == running.id and renewal.cancel_requested
    assert await queued_count(db) == 0


async def test_queue_deadline_fails_a_job_that_could_not_start(db: asyncpg.Pool) -> None:
    deadline = await db.fetchval("SELECT now() - interval '1 second'")
    job = await enqueue(db, new_job(queue_deadline=deadline))
    assert len(await store.expire_queued_jobs(db)) == 1
    failed = await store.get_job(db, job.id)
    assert failed is not None and failed.status == "failed" and failed.error_kind == "queue_timeout"
    assert await queued_count(db) == 0


async def test_a_job_past_its_queue_deadline_is_never_claimed(db: asyncpg.Pool) -> None:
    """The claim itself checks the deadline: a slot freeing between two sweeps cannot start it."""
    deadline = await db.fetchval("SELECT now() - interval '1 millisecond'")
    late = await enqueue(db, new_job(queue_deadline=deadline))
    on_time = await enqueue(db, new_job("bob"))
    claimed = await claim(db)
    assert claimed is not None and claimed.job.id == on_time.id
    assert (await store.get_job(db, late.id)).status == "queued"  # type: ignore[union-attr]  # until the sweep


async def test_every_state_change_is_recorded(db: asyncpg.Pool) -> None:
    job = await enqueue(db, new_job())
    claimed = await claim(db)
    assert claimed is not None and (await finish(db, claimed)).job is not None
    events = await db.fetch("SELECT status FROM job_events WHERE job_id = $1 ORDER BY id", job.id)
    assert [row["status"] for row in events] == ["queued", "running", "completed"]


async def test_the_heartbeat_renews_only_the_jobs_its_worker_still_runs(db: asyncpg.Pool) -> None:
    """A job its worker stopped (its lease deadline passed while the database was away) is not renewed
    when the database comes back: its slot may already be promised to the rescuer (found by chaos runs:
    the old heartbeat renewed every lease of the worker, and the stopped job's slot stayed held)."""
    await enqueue(db, new_job())
    await enqueue(db, new_job("bob"))
    kept, stopped = await claim(db, capacity=2), await claim(db, capacity=2)
    assert kept is not None and stopped is not None
    await db.execute("UPDATE leases SET expires_at = now() + interval '10 seconds'")
    renewed = await store.heartbeat(db, "w1", 30, [(kept.job.id, kept.job.attempt)])
    assert [r.job_id for r in renewed] == [kept.job.id]
    expiry = {row["job_id"]: row["renewed"] for row in await db.fetch(
        "SELECT job_id, expires_at > now() + interval '29 seconds' AS renewed FROM leases")}  # fmt: skip
    assert expiry == {kept.job.id: True, stopped.job.id: False}


async def test_a_rescue_of_several_jobs_of_one_user_counts_each_back_in_the_queue(db: asyncpg.Pool) -> None:
    """The quota counter must match the queue: two of alice's jobs rescued at once are two queued jobs
    (the old statement updated her counter once per rescue, not once per job)."""
    for _ in range(2):
        await enqueue(db, new_job())
    assert await claim(db, capacity=2) is not None and await claim(db, capacity=2) is not None
    assert await queued_count(db) == 0
    await expire_leases(db)
    assert len(await store.rescue_lost_jobs(db)) == 2
    assert await queued_count(db) == 2 == await db.fetchval("SELECT count(*) FROM ai_jobs WHERE status = 'queued'")


async def test_a_retry_handing_its_slot_to_the_same_users_next_job_keeps_the_count(db: asyncpg.Pool) -> None:
    """A transient failure re-queues alice's job (+1) and hands its slot to her next job (-1) in one
    statement: both moves count (two updates of one row in one statement kept only one)."""
    await enqueue(db, new_job())
    await enqueue(db, new_job())
    claimed = await claim(db)
    assert claimed is not None and await queued_count(db) == 1
    done = await finish(db, claimed, store.Outcome("retry", message="Ollama went away", delay=0), hand_on=True)
    assert done.job is not None and done.job.status == "queued" and done.next is not None
    assert await queued_count(db) == 1 == await db.fetchval("SELECT count(*) FROM ai_jobs WHERE status = 'queued'")


# ---- the next job reserved ahead --------------------------------------------------------------------

OTHER_HOST = store.Slots(pool="gpu", keys=["gpu/other/0"], ttl=30, grace=0, operations=SLOTS.operations, host="other")


def reserving(early_types: tuple[str, ...] = ("generate",)) -> store.Slots:
    return dataclasses.replace(slots(), reserve_ahead=True, early_types=early_types)


async def claim_reserving(db: asyncpg.Pool, early_types: tuple[str, ...] = ("generate",)) -> store.Claimed:
    claimed = await store.claim(db, reserving(early_types), "w1")
    assert claimed is not None
    return claimed


async def hand_on_reserving(db: asyncpg.Pool, claimed: store.Claimed) -> store.Finished:
    outcome = store.Outcome("completed", result={"ok": True}, progress={})
    return await store.finish(db, claimed, outcome, worker_id="w1", slots=reserving(), hand_on=True)


async def reserved_for(db: asyncpg.Pool, job_id: uuid.UUID) -> uuid.UUID | None:
    return await db.fetchval("SELECT reserved_for FROM ai_jobs WHERE id = $1", job_id)


async def add_other_host(db: asyncpg.Pool) -> None:
    await db.execute("INSERT INTO hosts (name, base_url, slots) VALUES ('other', 'http://other:11434', 1)")


async def test_a_claim_reserves_the_job_its_hand_off_would_take_and_other_hosts_pass_over_it(
    db: asyncpg.Pool,
) -> None:
    first, second = await enqueue(db, new_job()), await enqueue(db, new_job())
    running = await claim_reserving(db)
    assert running.job.id == first.id
    assert running.ahead is not None and running.ahead.id == second.id and running.ahead.status == "queued"
    assert await reserved_for(db, second.id) == first.id
    await add_other_host(db)  # a host that joins while the job is reserved
    assert await store.claim(db, OTHER_HOST, "w2") is None, "another host's claim passed over the reserved job"
    finished = await hand_on_reserving(db, running)
    assert finished.next is not None and finished.next.job.id == second.id and finished.next.job.attempt == 1
    assert finished.next.ahead is None, "nothing left to reserve"
    assert await reserved_for(db, second.id) is None


async def test_a_hand_off_reserves_the_job_after_the_one_it_hands_on_counting_that_user_as_served(
    db: asyncpg.Pool,
) -> None:
    """The same fair order as the claims that would follow: alice just had her turn, so bob's job is
    reserved after hers; when bob's starts, it is alice's turn again."""
    alice_1, alice_2 = await enqueue(db, new_job()), await enqueue(db, new_job())
    bob_1 = await enqueue(db, new_job("bob"))
    running = await claim_reserving(db)
    assert running.job.id == alice_1.id and running.ahead is not None and running.ahead.id == bob_1.id
    finished = await hand_on_reserving(db, running)
    handed = finished.next
    assert handed is not None and handed.job.id == bob_1.id
    assert handed.ahead is not None and handed.ahead.id == alice_2.id
    assert await reserved_for(db, alice_2.id) == bob_1.id and await reserved_for(db, bob_1.id) is None


async def test_a_reservation_lasts_as_long_as_the_lease_of_the_job_it_follows(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job())
    second = await enqueue(db, new_job())
    running = await claim_reserving(db)
    await add_other_host(db)
    assert await store.claim(db, OTHER_HOST, "w2") is None, "the lease is live: the job is kept"
    await expire_leases(db)  # the worker is gone (no heartbeat): once its lease has expired, the job is anyone's
    taken = await store.claim(db, OTHER_HOST, "w2")
    assert taken is not None and taken.job.id == second.id
    assert running.ahead is not None and running.ahead.id == second.id


async def test_a_hand_off_to_a_fairer_job_passes_the_reservation_on_to_it(db: asyncpg.Pool) -> None:
    """alice's second job was reserved after her first; bob's job, which came meanwhile, takes the hand-off
    (he has not had a turn), and alice's second is now reserved after bob's: it is what comes next."""
    await enqueue(db, new_job())
    second, third = await enqueue(db, new_job()), await enqueue(db, new_job())
    running = await claim_reserving(db)
    bobs = await enqueue(db, new_job("bob"))
    finished = await hand_on_reserving(db, running)
    assert finished.next is not None and finished.next.job.id == bobs.id
    assert finished.next.ahead is not None and finished.next.ahead.id == second.id
    assert await reserved_for(db, second.id) == bobs.id and await reserved_for(db, third.id) is None


async def test_a_finish_the_fence_rejects_leaves_the_reservation_alone(db: asyncpg.Pool) -> None:
    """An old attempt's late FINISH (the job was rescued and claimed again) writes nothing, and must not
    free the job reserved after the attempt that runs now."""
    await enqueue(db, new_job())
    second = await enqueue(db, new_job())
    running = await claim_reserving(db)
    stale = store.Claimed(dataclasses.replace(running.job, attempt=running.job.attempt - 1), running.slot)
    finished = await hand_on_reserving(db, stale)
    assert finished.job is None and finished.next is None
    assert await reserved_for(db, second.id) == running.job.id


async def test_a_finish_that_keeps_the_slot_holds_it_until_it_is_given_back(db: asyncpg.Pool) -> None:
    """While a request started early is still open on the slot, FINISH that finds no next job keeps the slot
    (no other processor may send a request there yet); the processor gives it back once that request is
    closed."""
    await enqueue(db, new_job())
    second = await enqueue(db, new_job())
    running = await claim_reserving(db)
    await store.request_cancel(db, second.id, by="alice")  # the reserved job goes: FINISH finds nothing
    outcome = store.Outcome("completed", result={"ok": True}, progress={})
    finished = await store.finish(db, running, outcome, worker_id="w1", slots=reserving(), hand_on=True, keep_slot=True)
    assert finished.job is not None and finished.job.status == "completed" and finished.next is None
    assert await db.fetchval("SELECT count(*) FROM leases") == 1, "kept"
    await store.release_leases(db, running.job.id, running.job.attempt)
    assert await db.fetchval("SELECT count(*) FROM leases") == 0
    released = await db.fetchval("SELECT count(*) FROM lease_history WHERE end_reason = 'released'")
    assert released == 1


async def test_a_fairer_job_that_came_after_the_reservation_takes_the_hand_off_and_frees_the_reserved_one(
    db: asyncpg.Pool,
) -> None:
    """FINISH picks again: bob, who has not had a turn, goes before alice's reserved second job, and the
    reservation no longer keeps that job from anyone."""
    await enqueue(db, new_job())
    second = await enqueue(db, new_job())
    running = await claim_reserving(db)
    assert running.ahead is not None and running.ahead.id == second.id
    bobs = await enqueue(db, new_job("bob"))
    await add_other_host(db)
    finished = await hand_on_reserving(db, running)
    assert finished.next is not None and finished.next.job.id == bobs.id
    assert await reserved_for(db, second.id) is None
    taken = await store.claim(db, OTHER_HOST, "w2")
    assert taken is not None and taken.job.id == second.id


async def test_no_job_is_reserved_while_another_host_could_run_it(db: asyncpg.Pool) -> None:
    """A reservation must never keep a job from an idle GPU."""
    await add_other_host(db)
    await db.execute("UPDATE hosts SET labels = '{a100}' WHERE name = 'default'")
    await enqueue(db, new_job())
    second = await enqueue(db, new_job())
    third = await enqueue(db, new_job(requires=["a100"]))  # only this host can run it
    running = await claim_reserving(db)
    assert running.ahead is None, "the other host could run the second job"
    assert await reserved_for(db, second.id) is None
    finished = await hand_on_reserving(db, running)
    assert finished.next is not None and finished.next.job.id == second.id
    assert finished.next.ahead is not None and finished.next.ahead.id == third.id


async def test_only_jobs_that_may_start_early_are_reserved_and_only_when_asked(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job())
    second, third = await enqueue(db, new_job()), await enqueue(db, new_job())
    running = await claim_reserving(db, early_types=())
    assert running.ahead is None and await reserved_for(db, second.id) is None
    await finish(db, running)
    claimed = await claim(db)  # a host with more than one slot, or RESERVE_AHEAD=false
    assert claimed is not None and claimed.job.id == second.id
    assert claimed.ahead is None and await reserved_for(db, third.id) is None


async def test_the_job_reserved_after_a_start_is_the_one_that_finish_will_pick_with_that_model_loaded(
    db: asyncpg.Pool,
) -> None:
    """Placement prefers a job whose model is loaded. The job reserved after X (llama3) is Y (llama3 too,
    warm once X has run), not the older Z (another model): that is the pick X's hand-off makes."""
    x = await enqueue(db, new_job(model="llama3:latest"))
    await enqueue(db, new_job(model="mistral:latest"))
    y = await enqueue(db, new_job(model="llama3:latest"))
    running = await claim_reserving(db)
    assert running.job.id == x.id
    assert running.ahead is not None and running.ahead.id == y.id
    finished = await hand_on_reserving(db, running)
    assert finished.next is not None and finished.next.job.id == y.id


async def test_a_job_queued_while_one_runs_with_none_reserved_is_reserved_to_follow_it(db: asyncpg.Pool) -> None:
    """The common case: a job arrives while another streams. It is reserved for that job's hand-off (so its
    request can go out as that one ends), and FINISH hands the slot on to it."""
    await enqueue(db, new_job())
    running = await claim_reserving(db)
    assert running.ahead is None, "nothing else was queued"
    later = await enqueue(db, new_job("bob"))
    ahead = await store.reserve_ahead(db, reserving(), running.job)
    assert ahead is not None and ahead.id == later.id and ahead.status == "queued"
    assert await reserved_for(db, later.id) == running.job.id
    await add_other_host(db)
    assert await store.claim(db, OTHER_HOST, "w2") is None, "another host's claim passed over the reserved job"
    finished = await hand_on_reserving(db, running)
    assert finished.next is not None and finished.next.job.id == later.id and finished.next.job.attempt == 1


async def test_no_job_is_reserved_for_a_job_that_no_longer_runs_or_where_reserving_is_off(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job())
    running = await claim_reserving(db)
    later = await enqueue(db, new_job())
    assert await store.reserve_ahead(db, slots(), running.job) is None, "RESERVE_AHEAD off (or several slots)"
    assert await store.reserve_ahead(db, reserving(early_types=()), running.job) is None, "not a type that starts early"
    await finish(db, running)
    assert await store.reserve_ahead(db, reserving(), running.job) is None, "it has ended"
    assert await reserved_for(db, later.id) is None
    again = await claim_reserving(db)
    assert again.job.id == later.id
    await enqueue(db, new_job())
    await expire_leases(db)
    assert await store.reserve_ahead(db, reserving(), again.job) is None, "its lease ran out"


async def test_a_fairer_job_queued_while_one_runs_takes_over_its_reservation(db: asyncpg.Pool) -> None:
    """alice's second job was reserved after her first; bob's, queued since, is the fairer next one (he has
    not had a turn): reserving again moves the reservation to it, so the job reserved is the one FINISH
    hands the slot to (an early start of alice's would have been stopped)."""
    await enqueue(db, new_job())
    second = await enqueue(db, new_job())
    running = await claim_reserving(db)
    assert running.ahead is not None and running.ahead.id == second.id
    bobs = await enqueue(db, new_job("bob"))
    ahead = await store.reserve_ahead(db, reserving(), running.job)
    assert ahead is not None and ahead.id == bobs.id
    assert await reserved_for(db, bobs.id) == running.job.id and await reserved_for(db, second.id) is None
    again = await store.reserve_ahead(db, reserving(), running.job)
    assert again is not None and again.id == bobs.id, "the same pick: kept"
    finished = await hand_on_reserving(db, dataclasses.replace(running, ahead=again))
    assert finished.next is not None and finished.next.job.id == bobs.id
    assert finished.next.ahead is not None and finished.next.ahead.id == second.id


@pytest.mark.parametrize("statement", ["CLAIM", "FINISH"])
async def test_the_pick_walks_each_users_queue_in_order_on_a_processors_connections(
    db: asyncpg.Pool, database: str, statement: str
) -> None:
    """With the statistics of a deep queue (2,000 jobs of 20 users), the planner's generic plan gathers
    each user's whole queue by bitmap and sorts it rather than walk `ai_jobs_claim_idx` to the first
    eligible job: a FINISH took 16 ms instead of 3 at this depth. A processor's connections
    (db.PROCESSOR_SETTINGS) walk."""
    async with db.acquire() as conn, conn.transaction():
        for n in range(2000):
            await store.enqueue(conn, new_job(f"user{n % 20}"), quota=10_000)
    await db.execute("ANALYZE")
    finishing = {
        "outcome": "completed", "result": {}, "progress": {}, "message": None, "error_kind": None, "delay": 0,
        "job_id": uuid.uuid4(), "attempt": 1, "slot": "gpu/0", "hand_on": True, "keep_slot": False,
    }  # fmt: skip
    params = {"slot_keys": SLOTS.keys, "grace": SLOTS.grace, **finishing, **SLOTS.params("w1")}
    query = getattr(sql, statement)
    processor_pool = await app_db.create_pool(database, max_size=1, processor=True)
    try:
        plans = {}
        for name, pool in (("default", db), ("processor", processor_pool)):
            rows = await pool.fetch("EXPLAIN (GENERIC_PLAN) " + query.sql, *query.args(params))  # as a processor plans
            plans[name] = "\n".join(row[0] for row in rows)
    finally:
        await processor_pool.close()
    assert "Bitmap Heap Scan on ai_jobs" in plans["default"]  # what this guards against still happens there
    assert "Bitmap Heap Scan on ai_jobs" not in plans["processor"]
    assert "Index Scan using ai_jobs_claim_idx" in plans["processor"]


def _plan_nodes(node: dict) -> list[dict]:
    return [node, *(found for child in node.get("Plans", []) for found in _plan_nodes(child))]


async def test_the_pick_looks_only_into_the_queues_of_users_with_queued_jobs(db: asyncpg.Pool) -> None:
    """Every user who ever used the pool keeps a `pool_users` row. The pick reads the queue of those with
    queued jobs only: with 2,000 users who have none left, a FINISH took 13.6 ms instead of 2.6."""
    await db.execute(
        "INSERT INTO pool_users (pool, user_id, queued) SELECT 'gpu', 'past' || g, 0 FROM generate_series(1, 2000) g"
    )
    job = await enqueue(db, new_job("alice"))
    args = sql.CLAIM.args({"slot_keys": SLOTS.keys, "grace": SLOTS.grace, **SLOTS.params("w1")})
    async with db.acquire() as conn:
        claiming = conn.transaction()
        await claiming.start()
        try:  # the claim runs under EXPLAIN ANALYZE, then is undone: its plan's reads are what is looked at
            [plan] = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql.CLAIM.sql, *args)
        finally:
            await claiming.rollback()
    reads = sum(node["Actual Loops"] for node in _plan_nodes(plan["Plan"]) if node.get("Relation Name") == "ai_jobs")
    assert reads < 20, f"{reads} reads of ai_jobs for one queued job"
    claimed = await claim(db)
    assert claimed is not None and claimed.job.id == job.id


async def rows_read_by_place(db: asyncpg.Pool, job_id: uuid.UUID, table: str) -> int:
    """The rows of `table` that reading a job's place (JOB_VIEW, run under EXPLAIN ANALYZE) went through."""
    args = sql.JOB_VIEW.args({"job_id": job_id, "pool": "gpu", "with_queue_length": False, "sample": 100})
    [plan] = await db.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql.JOB_VIEW.sql, *args)
    scans = [node for node in _plan_nodes(plan["Plan"]) if node.get("Relation Name") == table]
    return sum(node["Actual Rows"] * node["Actual Loops"] for node in scans)


async def test_a_jobs_place_reads_only_the_users_with_queued_jobs(db: asyncpg.Pool) -> None:
    """The status's place in line visits each user with queued jobs; users who used the pool before and have
    nothing queued (their rows stay) are not read: with 2,000 of them a status cost 0.4 ms more."""
    await db.execute(
        "INSERT INTO pool_users (pool, user_id, queued) SELECT 'gpu', 'past' || g, 0 FROM generate_series(1, 2000) g"
    )
    jobs = [await enqueue(db, new_job(f"user{n % 10}")) for n in range(30)]
    await db.execute("ANALYZE")
    read = await rows_read_by_place(db, jobs[-1].id, "pool_users")
    assert read < 100, f"{read} pool_users rows read for a queue of ten users"
    place = await store.place(db, jobs[-1].id)
    assert place is not None and place.position == 29


async def test_a_jobs_place_does_not_read_the_queue_when_it_has_one_priority(db: asyncpg.Pool) -> None:
    """With one priority queued, a job's place is counted from the per-user counts: the jobs read are its
    own user's older ones, each user's first and the sample of types ahead, not the whole queue."""
    jobs = [await enqueue(db, new_job(f"user{n % 10}"), quota=1000) for n in range(1000)]
    await db.execute("ANALYZE")
    read = await rows_read_by_place(db, jobs[-1].id, "ai_jobs")
    assert read < 400, f"{read} queued jobs read for the place of one in 1,000"
    place = await store.place(db, jobs[-1].id)
    assert place is not None and place.position == 999


async def test_concurrent_claims_serve_different_users(db: asyncpg.Pool) -> None:
    """Two claims at once: the second serves the next user, not the first user's next job. Both see the same
    order (a claim's turn is written at its commit), and before, the second took alice's next job and then
    waited for the first to commit to update alice's row: concurrent hand-offs ran one at a time."""
    for n in range(6):
        await enqueue(db, new_job(("alice", "bob", "carol")[n % 3]))
    async with db.acquire() as first, db.acquire() as second:
        await second.execute("SET lock_timeout = '2s'")  # the old pick waited here for the first claim
        claiming = first.transaction()
        await claiming.start()
        try:
            one = await store.claim(first, slots(2), "w1")
            two = await store.claim(second, slots(2), "w2")
        finally:
            await claiming.rollback()
    assert one is not None and one.job.user_id == "alice"
    assert two is not None and two.job.user_id == "bob"


async def test_concurrent_claims_of_one_users_jobs_both_start_one(db: asyncpg.Pool) -> None:
    """With one user waiting, a second claim at once still starts their next job (after the first commits)."""
    jobs = [await enqueue(db, new_job("alice")) for _ in range(3)]
    async with db.acquire() as first, db.acquire() as second:
        claiming = first.transaction()
        await claiming.start()
        one = await store.claim(first, slots(2), "w1")
        two = asyncio.ensure_future(store.claim(second, slots(2), "w2"))
        await claiming.commit()
        claimed = await two
    assert one is not None and one.job.id == jobs[0].id
    assert claimed is not None and claimed.job.id == jobs[1].id
    assert await queued_count(db) == 1


@pytest.mark.parametrize(
    ("queued", "takes"),
    [
        (["alice", "bob", "alice"], 1),  # alice is being served by the other claimer: bob is next
        (["alice", "alice"], 1),  # nobody else waits: alice's next job
    ],
)
async def test_a_claim_passes_a_job_another_claimer_holds(db: asyncpg.Pool, queued: list[str], takes: int) -> None:
    jobs = [await enqueue(db, new_job(user)) for user in queued]
    async with db.acquire() as other:
        holding = other.transaction()
        await holding.start()
        try:  # another claimer has locked the first job and not committed yet
            await other.execute("SELECT 1 FROM ai_jobs WHERE id = $1 FOR UPDATE", jobs[0].id)
            claimed = await claim(db, capacity=2)
        finally:
            await holding.rollback()
    assert claimed is not None and claimed.job.id == jobs[takes].id


async def test_a_hand_off_reads_a_few_jobs_however_many_are_queued(database: str) -> None:
    """The hand-off (FINISH with the next job) reads the jobs it moves and each user's first job, not the
    queue: on a processor's connections (generic plans), before the tables had statistics, it found the job
    it starts by walking every queued and running job (0.3 ms at 280 queued, growing with the queue)."""
    pool = await app_db.create_pool(database, max_size=1, processor=True)
    try:
        async with pool.acquire() as conn:
            async with conn.transaction():
                for n in range(300):
                    await store.enqueue(conn, new_job(f"user{n % 4}"), quota=1000)
            claimed = await claim(conn)
            assert claimed is not None
            await conn.execute("SELECT pg_stat_force_next_flush()")  # the counts start from 0 after it
            handing_on = conn.transaction()
            await handing_on.start()
            try:  # the counts of this transaction's reads, then it is undone
                finished = await finish(conn, claimed, hand_on=True)
                reads = await conn.fetchval(
                    "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables"
                    " WHERE relname = 'ai_jobs'"
                )
            finally:
                await handing_on.rollback()
    finally:
        await pool.close()
    assert finished.next is not None
    assert reads < 100, f"a hand-off read {reads} jobs of 300 queued"  # 17-36 now; 338 before
