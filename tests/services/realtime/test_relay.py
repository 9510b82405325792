"""Following one job's output for a drop-in caller: text as produced (in-process, or from the row when
another process runs it), then the job as it ended."""

from __future__ import annotations

import asyncio

import asyncpg

from app.services.queue import store
from app.services.queue.progress import ProgressHub
from app.services.realtime import relay
from tests.services.queue.test_store import SLOTS, claim, enqueue, new_job


async def test_text_arrives_as_produced_then_the_end(db: asyncpg.Pool) -> None:
    hub = ProgressHub()
    await enqueue(db, new_job())
    claimed = await claim(db)
    assert claimed is not None
    events = relay.follow(db, hub, claimed.job.id)
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)  # let the follower subscribe before the job type publishes
    hub.publish(claimed.job.id, {"text_delta": "Hello"})
    assert await first == relay.Text("Hello")
    await store.finish(
        db, claimed, store.Outcome("completed", result={"response": "Hello world"}), worker_id="w1", slots=SLOTS,
        hand_on=False,
    )  # fmt: skip
    hub.publish(claimed.job.id, {"ended": True})
    rest = [event async for event in events]
    assert rest[0] == relay.Text(" world"), "what the row has beyond what was streamed"
    assert isinstance(rest[-1], relay.Ended) and rest[-1].job.status == "completed"


class NoReads:
    """A database the follower must not need: the end it was handed is the row as written."""

    async def fetchrow(self, *_args: object) -> None:
        raise AssertionError("the follower read the row although the end came with it")


async def test_an_end_published_with_the_written_row_is_not_read_again(db: asyncpg.Pool) -> None:
    """The processor hands the follower the job as its outcome wrote it: the drop-in answer does not wait
    for one more round trip (make bench's broker overhead)."""
    hub = ProgressHub()
    await enqueue(db, new_job())
    claimed = await claim(db)
    assert claimed is not None
    events = relay.follow(NoReads(), hub, claimed.job.id)  # type: ignore[arg-type]
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)  # let the follower subscribe
    finished = await store.finish(
        db, claimed, store.Outcome("completed", result={"response": "Hi"}), worker_id="w1", slots=SLOTS,
        hand_on=False,
    )  # fmt: skip
    hub.publish(claimed.job.id, {"ended": True, "job": finished.job})
    assert await first == relay.Text("Hi")
    ended = await anext(events)
    assert (
        isinstance(ended, relay.Ended)
        and ended.job.status == "completed"
        and ended.job.result_data == {"response": "Hi"}
    )


async def test_without_a_hub_the_row_is_followed(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job())
    claimed = await claim(db)
    assert claimed is not None
    await store.write_progress(db, [(claimed.job.id, claimed.job.attempt, {"text": "Partial"})])
    events = relay.follow(db, None, claimed.job.id)
    assert await anext(events) == relay.Text("Partial")
    await store.finish(
        db, claimed, store.Outcome("failed", message="Ollama answered 500", error_kind="transient"), worker_id="w1",
        slots=SLOTS, hand_on=False,
    )  # fmt: skip
    ended = await anext(events)
    assert isinstance(ended, relay.Ended) and ended.job.error_message == "Ollama answered 500"


async def test_a_new_attempt_after_text_was_sent_interrupts_the_stream_instead_of_mixing_two_answers(
    db: asyncpg.Pool,
) -> None:
    """The first attempt streamed some text, then its worker lost the lease and the job runs again: the
    caller must not get the second answer glued to the first one's beginning (seen under CPU starvation
    as "Small the th… the sand the sand"). It gets an interruption, and the job is not left running for it."""
    await enqueue(db, new_job())
    first = await claim(db)
    assert first is not None
    await store.write_progress(db, [(first.job.id, first.job.attempt, {"text": "Small the"})])
    events = relay.follow(db, None, first.job.id)
    assert await anext(events) == relay.Text("Small the")
    await store.finish(db, first, store.Outcome("retry", message="lease lost"), worker_id="w1", slots=SLOTS,
                       hand_on=False)  # fmt: skip
    second = await claim(db)
    assert second is not None and second.job.attempt == first.job.attempt + 1
    await store.write_progress(db, [(second.job.id, second.job.attempt, {"text": "The answers"})])
    interrupted = await anext(events)
    assert isinstance(interrupted, relay.Interrupted) and interrupted.job.status == "failed"
    assert "interrupted" in (interrupted.job.error_message or "")


async def test_a_new_attempt_before_anything_was_sent_is_followed_from_its_start(db: asyncpg.Pool) -> None:
    hub = ProgressHub()
    await enqueue(db, new_job())
    claimed = await claim(db)
    assert claimed is not None
    events = relay.follow(db, hub, claimed.job.id)
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    hub.publish(claimed.job.id, {"attempt": claimed.job.attempt + 1, "text_delta": "Fresh"})
    assert await first == relay.Text("Fresh")
    hub.publish(claimed.job.id, {"attempt": claimed.job.attempt + 2, "text_delta": "Other"})
    assert isinstance(await anext(events), relay.Interrupted)
    await events.aclose()


async def test_a_caller_that_only_waits_for_the_end_gets_the_last_attempts_result(db: asyncpg.Pool) -> None:
    await enqueue(db, new_job())
    first = await claim(db)
    assert first is not None
    await store.write_progress(db, [(first.job.id, first.job.attempt, {"text": "Small the"})])
    events = relay.follow(db, None, first.job.id, interrupt=False)
    assert await anext(events) == relay.Text("Small the")
    await store.finish(db, first, store.Outcome("retry", message="lease lost"), worker_id="w1", slots=SLOTS,
                       hand_on=False)  # fmt: skip
    second = await claim(db)
    assert second is not None
    await store.finish(db, second, store.Outcome("completed", result={"response": "The answer"}), worker_id="w1",
                       slots=SLOTS, hand_on=False)  # fmt: skip
    rest = [event async for event in events]
    assert isinstance(rest[-1], relay.Ended) and not isinstance(rest[-1], relay.Interrupted)
    assert rest[-1].job.status == "completed" and rest[-1].job.result_data == {"response": "The answer"}
