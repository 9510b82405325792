"""What Socket.IO clients are told, with the sender in this process and a recording emit: job updates in
order (a stale one dropped), progress gathered per interval with offsets, the lock coalesced."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg

from app.services.realtime.events import Events
from tests.services.queue.test_store import claim, enqueue, new_job
from tests.support.waiting import until


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], list[str] | None]] = []

    async def __call__(self, event: str, data: dict[str, Any], rooms: list[str] | None) -> None:
        self.sent.append((event, data, rooms))

    def of(self, event: str) -> list[dict[str, Any]]:
        return [data for name, data, _ in self.sent if name == event]


async def test_updates_go_to_the_users_rooms_in_order_and_a_stale_one_is_dropped(db: asyncpg.Pool) -> None:
    recorder = Recorder()
    events = Events(recorder, db, capacity=1, progress_interval=0.01)
    events.start()
    try:
        queued = await enqueue(db, new_job())
        claimed = await claim(db)
        assert claimed is not None
        events.job_changed(claimed.job.id, snapshot=claimed.job)  # running, announced first …
        events.job_changed(queued.id, snapshot=queued)  # … then the older "queued" snapshot: not sent
        events.job_progress(claimed.job, {"text_delta": "Hel", "tokens": 1})
        events.job_progress(claimed.job, {"text_delta": "lo", "tokens": 2})
        await until(lambda: recorder.of("job:progress"), what="a progress event")
        events.job_changed(
            claimed.job.id, snapshot=replace(claimed.job, updated_at=claimed.job.updated_at + timedelta(1))
        )
        await until(lambda: len(recorder.of("job:update")) == 2 and recorder.of("lock:update"), what="the updates")
    finally:
        await events.stop()
    assert [update["status"] for update in recorder.of("job:update")] == ["running", "running"]
    rooms = next(rooms for name, _, rooms in recorder.sent if name == "job:update")
    assert rooms == ["user:alice", "admins", f"job:{claimed.job.id}"]
    [progress] = recorder.of("job:progress")
    assert (progress["text"], progress["offset"], progress["tokens"]) == ("Hello", 0, 2), "gathered into one"
    assert recorder.of("lock:update")[-1]["holders"][0]["username"] == "alice"


async def test_an_update_without_a_snapshot_is_read_from_the_row_with_its_place(db: asyncpg.Pool) -> None:
    recorder = Recorder()
    events = Events(recorder, db, capacity=1)
    events.start()
    try:
        await enqueue(db, new_job())
        waiting = await enqueue(db, new_job("bob"))
        events.job_changed(waiting.id)
        await until(lambda: recorder.of("job:update"), what="the update")
    finally:
        await events.stop()
    [update] = recorder.of("job:update")
    assert update["status"] == "queued" and update["position"] == 1
