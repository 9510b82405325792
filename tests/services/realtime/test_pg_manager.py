"""The Socket.IO client manager's transport: NOTIFY between connections, in order, any size."""

from __future__ import annotations

import asyncio
import json

from app.services.realtime.pg_manager import NOTIFY_LIMIT, PostgresManager, packed
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


def test_messages_waiting_together_share_one_notify_each_within_the_limit() -> None:
    messages = [{"n": n, "text": "x" * (3000 if n % 5 == 0 else 50)} for n in range(40)]
    bodies = packed(messages)
    assert len(bodies) < len(messages) / 2, "a burst costs a few NOTIFYs, not one each"
    assert all(len(body.encode()) <= NOTIFY_LIMIT for body in bodies)
    assert [message for body in bodies for message in json.loads(body)] == messages, "in order, intact"
    assert packed([{"text": "y" * 9000}]) == [json.dumps([{"text": "y" * 9000}], separators=(",", ":"))]
