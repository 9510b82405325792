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
