"""A Socket.IO client manager over PostgreSQL LISTEN/NOTIFY, so events cross processes without Redis.

python-socketio's `AsyncPubSubManager` does the Socket.IO side (rooms, which host delivers what);
this class only moves its messages: `_publish` NOTIFYs them on one channel, `_listen` yields what
arrives. Every API replica LISTENs; a worker uses a write-only instance to emit to clients connected
to any replica.

Order: messages are sent in order over one connection (those waiting together as one JSON array per
NOTIFY), and PostgreSQL delivers notifications in commit order, so the events of one job reach every
replica in the order they were emitted.
Size: NOTIFY carries at most 8000 bytes; a bigger message is stored in `socketio_messages` and only
its id is notified.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from socketio.async_pubsub_manager import AsyncPubSubManager

from app import db
from app.services.queue.listener import Listener

# NOTIFY payloads are limited to 8000 bytes: a bigger message is stored and its id sent instead.
# Stored messages are read within moments; ones older than five minutes are deleted as new ones arrive.
SOCKETIO_PUBLISH = "SELECT pg_notify($1, $2)"

SOCKETIO_PUBLISH_STORED = """
WITH stored AS (INSERT INTO socketio_messages (body) VALUES ($2) RETURNING id),
     old AS (DELETE FROM socketio_messages WHERE created_at < now() - interval '5 minutes')
SELECT pg_notify($1, json_build_object('stored_message', id)::text) FROM stored
"""

SOCKETIO_STORED_MESSAGE = "SELECT body FROM socketio_messages WHERE id = $1"

log = logging.getLogger(__name__)

CHANNEL = "aijobs_socketio"
BATCH_LIMIT = 100  # messages gathered into one NOTIFY at most
NOTIFY_LIMIT = 7900  # bytes; PostgreSQL's limit is 8000 including the channel name
SEND_ATTEMPTS = 5


def packed(messages: list[dict[str, Any]]) -> list[str]:
    """The messages as JSON arrays, in order, each as large as fits in one NOTIFY (a message too big for
    one goes alone, to be stored)."""
    bodies: list[str] = []
    current: list[str] = []
    size = 2
    for message in messages:
        encoded = json.dumps(message, separators=(",", ":"))
        if current and size + len(encoded.encode()) + 1 > NOTIFY_LIMIT:
            bodies.append("[" + ",".join(current) + "]")
            current, size = [], 2
        current.append(encoded)
        size += len(encoded.encode()) + 1
    if current:
        bodies.append("[" + ",".join(current) + "]")
    return bodies


class PostgresManager(AsyncPubSubManager):
    name = "postgres"

    def __init__(self, database_url: str | None = None, *, channel: str = CHANNEL, write_only: bool = False) -> None:
        super().__init__(channel=channel, write_only=write_only, logger=log)
        self.database_url = database_url  # the API sets it in its lifespan, once the database is known
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self.listening = asyncio.Event()

    # ---- sending ---------------------------------------------------------------------------------

    async def _publish(self, data: dict[str, Any]) -> None:
        """Queue the message and return: the caller (a job's progress, a request) never waits on the
        database. One sender task sends in order."""
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_loop(), name="socketio sender")
        self._outbox.put_nowait(data)

    async def _send_loop(self) -> None:
        """Send what is queued, several messages per NOTIFY when they are waiting together (a burst of
        progress and status events costs one round trip, not one each)."""
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < BATCH_LIMIT:
                batch.append(self._outbox.get_nowait())
            try:
                for body in packed(batch):
                    await self._send(body)
            finally:
                for _ in batch:
                    self._outbox.task_done()

    async def _send(self, body: str) -> None:
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                if self._conn is None or self._conn.is_closed():
                    assert self.database_url, "PostgresManager.database_url is not set"
                    self._conn = await db.connect_raw(self.database_url)
                if len(body.encode()) <= NOTIFY_LIMIT:
                    await self._conn.execute(SOCKETIO_PUBLISH, self.channel, body)
                else:
                    await self._conn.execute(SOCKETIO_PUBLISH_STORED, self.channel, body)
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("publishing a Socket.IO event failed (%s); attempt %d of %d", error, attempt, SEND_ATTEMPTS)
                self._conn = None
                await asyncio.sleep(0.2 * attempt)
        log.error("dropped a Socket.IO event after %d attempts; clients catch up from the status endpoint", attempt)

    async def flush(self, grace: float = 5.0) -> None:
        """Wait until everything emitted so far has been sent (used before a process exits)."""
        try:
            await asyncio.wait_for(self._outbox.join(), grace)
        except TimeoutError:
            log.warning("%d Socket.IO event(s) not sent before shutdown", self._outbox.qsize())

    async def close(self) -> None:
        await self.flush()
        for task in (self._sender, getattr(self, "thread", None)):
            if isinstance(task, asyncio.Task):
                task.cancel()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    # ---- receiving -------------------------------------------------------------------------------

    async def _listen(self) -> AsyncIterator[dict[str, Any]]:  # type: ignore[override]
        assert self.database_url, "PostgresManager.database_url is not set"
        inbox: asyncio.Queue[str] = asyncio.Queue()
        listener = Listener(self.database_url)
        listener.listen(self.channel, inbox.put_nowait)
        listener.on_connect(self.listening.set)
        listening = asyncio.create_task(listener.run(), name="socketio listener")
        reader: asyncpg.Connection | None = None
        try:
            while True:
                notified = json.loads(await inbox.get())
                if isinstance(notified, dict) and "stored_message" in notified:
                    if reader is None or reader.is_closed():
                        reader = await db.connect_raw(self.database_url)
                    body = await reader.fetchval(SOCKETIO_STORED_MESSAGE, notified["stored_message"])
                    if body is None:
                        continue  # deleted already (minutes late): the status endpoint has the state
                    notified = json.loads(body)
                for message in notified if isinstance(notified, list) else [notified]:
                    yield message
        finally:
            listening.cancel()
            if reader is not None:
                await reader.close()
