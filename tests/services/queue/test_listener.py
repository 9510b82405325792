"""LISTEN over one connection: notifications reach their callbacks, and every (re)connect says so, so
that whoever listens looks again at what it may have missed."""

from __future__ import annotations

import asyncio

import asyncpg

from app.services.queue.listener import Listener
from tests.support.waiting import until


async def test_notifications_reach_their_callback_and_a_lost_connection_comes_back(
    db: asyncpg.Pool, database: str
) -> None:
    received: list[str] = []
    connects = 0

    def connected() -> None:
        nonlocal connects
        connects += 1

    listener = Listener(database, keepalive=0.2)
    listener.listen("aijobs_test", received.append)
    listener.on_connect(connected)
    task = asyncio.create_task(listener.run())
    try:
        await until(lambda: listener.connected.is_set(), what="LISTEN")
        await db.execute("SELECT pg_notify('aijobs_test', 'gpu')")
        await until(lambda: received == ["gpu"], what="the notification")
        await db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' OR query = 'SELECT 1'"
            " AND pid <> pg_backend_pid()"
        )
        await until(lambda: connects >= 2, within=20, what="the listener to reconnect (and say so)")
        await until(lambda: listener.connected.is_set(), what="LISTEN again")
        await db.execute("SELECT pg_notify('aijobs_test', 'again')")
        await until(lambda: received[-1:] == ["again"], what="a notification after the reconnect")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
