"""LISTEN on PostgreSQL channels over one dedicated connection, reconnecting when it drops.

NOTIFY is how processes wake each other (a job queued, a slot freed, a cancel). A notification
sent while the connection was down is lost, so every (re)connect calls `on_connect`, which lets
the caller re-check the database instead of trusting that nothing happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from app import db

log = logging.getLogger(__name__)

Callback = Callable[[str], None]  # receives the payload


class Listener:
    def __init__(self, database_url: str, *, keepalive: float = 5.0) -> None:
        self._url = database_url
        self._keepalive = keepalive
        self._callbacks: dict[str, Callback] = {}
        self._on_connect: list[Callable[[], None]] = []
        self.connected = asyncio.Event()

    def listen(self, channel: str, callback: Callback) -> None:
        self._callbacks[channel] = callback

    def on_connect(self, callback: Callable[[], None]) -> None:
        self._on_connect.append(callback)

    def _dispatch(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        self._callbacks[channel](payload)

    async def run(self) -> None:
        """Listen until cancelled; reconnect with backoff after any failure."""
        delay = 0.1
        while True:
            try:
                await self._listen_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs", error, delay)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _listen_once(self) -> None:
        conn = await db.connect_raw(self._url)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            for channel in self._callbacks:
                await conn.add_listener(channel, self._dispatch)
            self.connected.set()
            for callback in self._on_connect:
                callback()
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), timeout=self._keepalive)
                except TimeoutError:
                    await asyncio.wait_for(conn.execute("SELECT 1"), timeout=self._keepalive)
        finally:
            conn.terminate()
        raise OSError("connection closed by the server")
