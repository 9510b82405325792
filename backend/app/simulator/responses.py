"""How replies go out: JSON and NDJSON bodies, work that stops the moment the client disconnects,
and a connection dropped without any response."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.simulator.stats import RequestRecord, Stats

JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"
# The outer ASGI wrapper (app.py) keeps the server's own `send` here: Starlette's middleware wraps
# `send`, and only the server's original one leads to the connection a drop must close.
RAW_SEND_KEY = "aijobs.simulator.raw_send"

log = logging.getLogger(__name__)


def dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type=JSON_TYPE)


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


class ApiError(Exception):
    """A request Ollama would refuse before doing any work: answered as `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Line:
    """One NDJSON line of a streamed 200 reply. The last line (done, or an error) ends the body."""

    body: dict[str, Any]
    last: bool = False


@dataclass
class Whole:
    """The entire reply as one JSON object: non-streamed results, load replies, early errors."""

    body: dict[str, Any]
    status: int = 200


Event = Line | Whole
Finish = Callable[[str, int], None]


def _no_finish(_outcome: str, _status: int) -> None:
    pass


class WorkResponse(Response):
    """Runs an event generator (the "GPU work") and sends what it yields, while a second task
    watches `receive()` for `http.disconnect`. When the client goes away the work is cancelled at
    once, so no further token is produced, and the outcome is "disconnect"."""

    def __init__(self, events: AsyncIterator[Event]) -> None:
        super().__init__(status_code=200)
        self.events = events
        self.outcome: str | None = None
        self.on_finish: Finish = _no_finish  # called just before the reply's last bytes go out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        writer = _EventWriter(send, self.on_finish)
        work = asyncio.ensure_future(writer.write(self.events))
        watch = asyncio.ensure_future(_until_disconnect(receive))
        try:
            await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also if this task itself is cancelled (server shutdown)
            watch.cancel()
            work.cancel()
            await asyncio.gather(work, watch, return_exceptions=True)
        self.status_code = writer.status
        if work.done() and not work.cancelled() and work.exception() is None:
            self.outcome = work.result()
        elif watch.done() and not watch.cancelled():
            self.outcome = "disconnect"
        else:
            self.outcome = "error"
            if not work.cancelled() and work.exception() is not None:
                raise work.exception()  # type: ignore[misc]


async def _until_disconnect(receive: Receive) -> None:
    # The request body has been read by now, so the server only answers once the client is gone
    # (or once our reply is complete, by which time the work task has won the race).
    while (await receive())["type"] != "http.disconnect":
        pass


class _EventWriter:
    """Sends events. The request is reported finished *before* the last bytes are sent: a client
    holding the whole reply (and perhaps starting its next request) must never still see this one
    in flight, or a strictly sequential client would seem to run two requests at once."""

    def __init__(self, send: Send, on_finish: Finish) -> None:
        self.send = send
        self.on_finish = on_finish
        self.status: int | None = None

    async def write(self, events: AsyncIterator[Event]) -> str:
        """Send every event; "error" if the reply was an error or ended with an error line."""
        outcome = "done"
        # aclosing: if this task is cancelled while the generator waits at a `yield`, its
        # `finally` (releasing the model) still runs now rather than whenever it is collected.
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, Whole):
                    return await self._whole(event)
                outcome = "error" if "error" in event.body else outcome
                await self._start(200, NDJSON_TYPE)
                if event.last:
                    return await self._end(dumps(event.body) + b"\n", outcome)
                await self.send({"type": "http.response.body", "body": dumps(event.body) + b"\n", "more_body": True})
        await self._start(200, NDJSON_TYPE)  # a generator that yielded nothing still owes a reply
        return await self._end(b"", outcome)

    async def _whole(self, event: Whole) -> str:
        await self._start(event.status, JSON_TYPE)
        return await self._end(dumps(event.body), "done" if event.status < 400 else "error")

    async def _end(self, body: bytes, outcome: str) -> str:
        self.on_finish(outcome, self.status or 200)
        await self.send({"type": "http.response.body", "body": body})
        return outcome

    async def _start(self, status: int, media_type: str) -> None:
        if self.status is None:
            self.status = status
            headers = [(b"content-type", media_type.encode())]
            await self.send({"type": "http.response.start", "status": status, "headers": headers})


def server_transport(scope: Scope) -> asyncio.Transport | None:
    """The server's transport of this request's connection, reached through its own `send` callable
    (uvicorn's `RequestResponseCycle.send`, a bound method with a `transport`); None elsewhere."""
    return getattr(getattr(scope.get(RAW_SEND_KEY), "__self__", None), "transport", None)


class DropResponse(Response):
    """Close the connection without sending a byte, like an Ollama process that died.

    ASGI has no message for this, so we reach the server's transport through its own `send`
    callable (uvicorn's `RequestResponseCycle.send`, a bound method with a `transport`). Once the
    transport is closed, uvicorn reports `http.disconnect` and, seeing the client gone, sends
    nothing else. The client sees `httpx.RemoteProtocolError("Server disconnected without sending
    a response.")`.
    """

    outcome = "error"

    def __init__(self) -> None:
        super().__init__(status_code=0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = server_transport(scope)
        if transport is None:
            # Not under uvicorn: start a reply and abort it, the nearest thing ASGI allows.
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise ConnectionAbortedError("simulated connection drop")
        transport.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await _until_disconnect(receive)


class Tracked(Response):
    """Sends the inner response, then records how the request ended in the stats."""

    def __init__(self, inner: Response, record: RequestRecord, stats: Stats) -> None:
        super().__init__(status_code=inner.status_code)
        self.inner = inner
        self.record = record
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if isinstance(self.inner, WorkResponse):
            self.inner.on_finish = self._finish
        else:  # known already: record it before the client can have the reply (see _EventWriter)
            self._finish(self._outcome(), self.inner.status_code)
        outcome = "error"
        try:
            await self.inner(scope, receive, send)
            outcome = self._outcome()
        finally:
            self._finish(outcome, self.inner.status_code)  # no-op if finished already

    def _outcome(self) -> str:
        return getattr(self.inner, "outcome", None) or ("done" if self.inner.status_code < 400 else "error")

    def _finish(self, outcome: str, status: int | None) -> None:
        self.stats.finish(self.record, outcome, status or None)
