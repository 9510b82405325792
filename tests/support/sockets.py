"""Socket.IO clients for tests: connect with a token and record every event received, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import socketio

EVENTS = ("job:update", "job:progress", "lock:update")


@dataclass
class SocketClient:
    client: socketio.AsyncClient
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def of_job(self, job_id: str) -> list[tuple[str, dict[str, Any]]]:
        return [(name, data) for name, data in self.events if name != "lock:update" and data["job_id"] == job_id]

    def job_ended(self, job_id: str) -> bool:
        return any(
            name == "job:update" and data["status"] in {"completed", "failed", "cancelled"}
            for name, data in self.of_job(job_id)
        )

    async def close(self) -> None:
        await self.client.disconnect()


async def connect(base_url: str, token: str | None) -> SocketClient:
    client = socketio.AsyncClient(reconnection=False)
    recorder = SocketClient(client)
    for name in EVENTS:
        client.on(name, handler=lambda data, name=name: recorder.events.append((name, data)))
    refusals: list[Any] = []
    client.on("connect_error", handler=refusals.append)
    try:
        await client.connect(
            base_url, auth={"token": token} if token else None, transports=["websocket"], wait_timeout=10
        )
    except socketio.exceptions.ConnectionError as error:
        raise Refused(refusals[0] if refusals else {"message": str(error)}) from error
    return recorder


class Refused(socketio.exceptions.ConnectionError):
    """The server refused the connection; `reason` is what it said (code and message)."""

    def __init__(self, reason: Any) -> None:
        super().__init__(reason)
        self.reason = reason
