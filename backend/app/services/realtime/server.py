"""The Socket.IO server, mounted beside the HTTP API at /socket.io.

A client connects with its token (`io(url, {auth: {token}})`, or an `Authorization: Bearer` header)
and joins its user's room; admins also join `admins`. It may `subscribe` to one of its jobs to get
that job's events (an admin to any job). The events themselves are sent by `services/events.py`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import socketio
from fastapi import FastAPI

from app.errors import NotFound
from app.services.accounts.auth import AuthError
from app.services.accounts.users import User
from app.services.queue import submissions, views
from app.services.realtime.pg_manager import PostgresManager

log = logging.getLogger(__name__)


def _token(environ: dict[str, Any], auth: Any) -> str | None:
    if isinstance(auth, dict) and auth.get("token"):
        return str(auth["token"])
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def create_server(app: FastAPI, cors_origins: list[str]) -> socketio.AsyncServer:
    """The server, its client manager over PostgreSQL (its database URL is set in the app's lifespan)."""
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=PostgresManager(),
        cors_allowed_origins=cors_origins or None,  # None: same origin only; else CORS_ORIGINS
        logger=False,
        engineio_logger=False,
    )

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = _token(environ, auth)
        if token is None:
            raise socketio.exceptions.ConnectionRefusedError(
                "Send your API key or token: io(url, {auth: {token: KEY}}).", {"code": "unauthorized"}
            )
        try:
            user = await app.state.authenticator.authenticate(token)
        except AuthError as error:
            raise socketio.exceptions.ConnectionRefusedError(str(error), {"code": "unauthorized"}) from None
        await sio.save_session(sid, {"user": user})
        await sio.enter_room(sid, f"user:{user.id}")
        if user.is_admin:
            await sio.enter_room(sid, "admins")
        log.debug("socket %s connected as %s", sid, user.username)

    @sio.event
    async def subscribe(sid: str, data: Any) -> dict[str, Any]:
        """`subscribe {job_id}` → join the job's room; the answer carries its current status, so a
        client that (re)connects starts from the truth and then follows the events."""
        user: User = (await sio.get_session(sid))["user"]
        try:
            job_id = uuid.UUID(str(data.get("job_id") if isinstance(data, dict) else data))
        except ValueError:
            return {"ok": False, "error": {"code": "invalid_input", "message": "Send {job_id: '<uuid>'}."}}
        try:
            slots = app.state.settings.max_concurrent_jobs
            place = await submissions.get_owned_place(app.state.db, user, job_id, slots)
            status = await views.place_view(app.state.db, place, slots)
        except NotFound as error:
            return {"ok": False, "error": {"code": "not_found", "message": error.message}}
        await sio.enter_room(sid, f"job:{job_id}")
        return {"ok": True, "status": status.model_dump(mode="json")}

    @sio.event
    async def unsubscribe(sid: str, data: Any) -> dict[str, Any]:
        job_id = data.get("job_id") if isinstance(data, dict) else data
        await sio.leave_room(sid, f"job:{job_id}")
        return {"ok": True}

    return sio
