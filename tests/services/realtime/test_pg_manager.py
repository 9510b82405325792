"""The Socket.IO client manager's transport: NOTIFY between connections, in order, any size."""

from __future__ import annotations

import asyncio

from app.services.realtime.pg_manager import NOTIFY_LIMIT, PostgresManager
from tests.support.waiting import until


async def test_messages_arrive_in_order_including_ones_over_the_notify_limit(database: str) -> None:
    receiver = PostgresManager(database)
    sender = PostgresManager(database, write_only=True)
    received: list[dict] = []

    async def consume() -> None:
        async for message in receiver._listen():
            received.append(message)

    consuming = asyncio.create_task(consume())
    try:
        await until(receiver.listening.is_set, 10, "the receiver to LISTEN")
        sent = [
            {"method": "emit", "n": n, "data": ["é" * (NOTIFY_LIMIT + 100) if n % 4 == 0 else "small"]}
            for n in range(40)
        ]
        for message in sent:
            await sender._publish(message)
        await until(lambda: len(received) == len(sent), 20, "every message to arrive")
        assert [message["n"] for message in received] == list(range(40))
        assert received == sent
    finally:
        consuming.cancel()
        await sender.close()
