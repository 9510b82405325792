"""The ASGI app: built by `create_app`, with the database and processor started in its lifespan."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import socketio
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import db, migrate, openapi, web
from app.config import Settings, load_settings
from app.errors import AppError
from app.middleware import BodySizeLimit
from app.routes import admin, health, hosts, jobs, leases, lock, metrics, models, training
from app.routes.fronts import ollama, openai
from app.services.accounts import users
from app.services.accounts.auth import Authenticator
from app.services.fleet import hosts as fleet_hosts
from app.services.fleet.catalogue import Catalogue
from app.services.job_types import JOB_TYPES
from app.services.ollama import capabilities
from app.services.queue.processor import Processor
from app.services.queue.progress import ProgressHub
from app.services.realtime import server
from app.services.realtime.events import Events

log = logging.getLogger(__name__)


async def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded PostgreSQL (started in a thread: pgserver blocks)."""
    if settings.database_url:
        return settings.database_url
    return await asyncio.to_thread(db.start_embedded_postgres, settings.data_dir)


# A request that cannot reach the database is answered 503 with these (the client retries), never a
# plain-text 500 or a dropped connection.
DATABASE_CONNECTION_ERRORS = (OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)
DATABASE_RETRY_AFTER = 5

HTTP_ERROR_CODES = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def _error(
    status: int, code: str, message: str, details: object = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


SEND_JSON = "the header `Content-Type: application/json`"


def _unreadable_body(request: Request, error: RequestValidationError) -> str | None:
    """What to do about a body FastAPI could not read as JSON at all, or None when it could (then the
    fields are the problem). Its own words say `body.50: JSON decode error`, 50 being a character offset,
    or `Input should be a valid dictionary` for a body sent with another Content-Type."""
    first = error.errors()[0]
    if first["type"] == "json_invalid":
        text, offset = error.body, first["loc"][1]
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        line = text.count("\n", 0, offset) + 1
        column = offset - text.rfind("\n", 0, offset)
        return f"The body is not valid JSON: {first['ctx']['error']} at line {line} column {column}."
    if first["loc"] != ("body",):
        return None
    if first["type"] == "missing":
        return f"This endpoint needs a JSON body, sent with {SEND_JSON}."
    if isinstance(error.body, bytes):  # FastAPI reads a body as JSON only when the header says it is
        content_type = request.headers.get("content-type")
        sent = f"this request's Content-Type is {content_type!r}" if content_type else "this request has none"
        return f"Send the body as JSON with {SEND_JSON} ({sent})."
    return None


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_request: Request, error: AppError) -> JSONResponse:
        return _error(error.status_code, error.code, error.message, error.details, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        unreadable = _unreadable_body(request, error)
        if unreadable is not None:
            return _error(422, "invalid_input", unreadable, {"fields": [{"field": "body", "message": unreadable}]})
        fields = [
            {"field": ".".join(str(part) for part in item["loc"]), "message": item["msg"]} for item in error.errors()
        ]
        summary = "; ".join(f"{item['field']}: {item['message']}" for item in fields)
        return _error(422, "invalid_input", f"Invalid request: {summary}", {"fields": fields})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:  # FastAPI could not parse the body at all: still a 422 naming the fix
            return _error(
                422,
                "invalid_input",
                "Invalid request body: send a JSON object, UTF-8 encoded.",
                {"fields": [{"field": "body", "message": str(error.detail)}]},
            )
        code = HTTP_ERROR_CODES.get(error.status_code, "http_error")
        return _error(error.status_code, code, str(error.detail), headers=getattr(error, "headers", None))

    async def database_unavailable(_request: Request, error: Exception) -> JSONResponse:
        log.warning("database unavailable: %s: %s", type(error).__name__, error)
        return _error(
            503,
            "database_unavailable",
            "The service's database cannot be reached right now; nothing you sent was lost. Try again in a few "
            "seconds.",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )

    for kind in DATABASE_CONNECTION_ERRORS:
        app.add_exception_handler(kind, database_unavailable)

    @app.exception_handler(sqlalchemy.exc.DBAPIError)
    async def database_error(request: Request, error: sqlalchemy.exc.DBAPIError) -> JSONResponse:
        if (
            error.connection_invalidated
            or isinstance(error.orig, DATABASE_CONNECTION_ERRORS)
            or isinstance(error, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError)
        ):
            return await database_unavailable(request, error)
        return await unexpected(request, error)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=error)
        return _error(500, "internal_error", f"Internal error ({type(error).__name__}); it has been logged.")


async def announce_first_admin(engine: AsyncEngine) -> None:
    """A fresh install has no users: create an admin and print its key, once, where the operator looks."""
    async with engine.begin() as conn:
        issued = await users.bootstrap_admin(conn)
    if issued is not None:
        banner = (
            f"\n  First start: created admin user {issued.user.username!r}. Its API key (shown only now):\n\n"
            f"    {issued.key}\n\n  Sign in on the page with it, or: curl -H 'Authorization: Bearer {issued.key}' …\n"
            "  More users: aijobs users create NAME [--admin]\n"
        )
        print(banner, file=sys.stderr, flush=True)


def socket_emitter(sio: socketio.AsyncServer) -> Callable[[str, dict[str, Any], list[str] | None], Awaitable[Any]]:
    async def emit(event: str, data: dict[str, Any], rooms: list[str] | None) -> None:
        await sio.emit(event, data, to=rooms)

    return emit


def create_asgi_app(settings: Settings | None = None) -> socketio.ASGIApp:
    """What uvicorn serves: Socket.IO at /socket.io, everything else the FastAPI app."""
    app = create_app(settings)
    return socketio.ASGIApp(app.state.sio, other_asgi_app=app)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = await resolve_database_url(settings)
        await migrate.upgrade_async(url)
        engine = db.create_engine(url)
        app.state.db = await db.create_pool(url)  # raw asyncpg: the job statements, status, submit
        await fleet_hosts.seed(app.state.db, settings)  # OLLAMA_HOSTS, or the one default host
        if settings.auth_mode == "apikey":
            await announce_first_admin(engine)
        app.state.authenticator = Authenticator(settings, engine)
        manager = app.state.sio.manager
        manager.database_url = url
        app.state.sio.manager_initialized = True  # listen now, not at the first client's connect
        manager.initialize()
        events = Events(
            socket_emitter(app.state.sio),
            app.state.db,
            capacity=settings.max_concurrent_jobs,
            progress_interval=settings.socket_progress_interval,
        )
        events.start()
        app.state.events = events
        app.state.hub = ProgressHub()
        app.state.background_tasks = set()
        app.state.ollama_http = httpx.AsyncClient(
            base_url=settings.ollama_base_url,
            timeout=httpx.Timeout(settings.ollama_read_timeout, connect=settings.ollama_connect_timeout),
        )
        app.state.catalogue = Catalogue(app.state.db, settings, app.state.ollama_http)
        app.state.shown_models = capabilities.ShownModels(app.state.catalogue.show)
        processor = None
        if settings.run_processor:
            processor = Processor(settings=settings, engine=engine, database_url=url, hub=app.state.hub, events=events)
            await processor.start()
        app.state.settings, app.state.engine, app.state.processor = settings, engine, processor
        log.info("aijobs ready on http://%s:%d", settings.host, settings.port)
        try:
            yield
        finally:
            if processor is not None:
                await processor.stop()
            await events.stop()
            await manager.close()
            await app.state.catalogue.close()
            await app.state.ollama_http.aclose()
            await app.state.db.close()
            await engine.dispose()

    app = FastAPI(
        title="aijobs",
        summary="Share one GPU behind Ollama: queued AI jobs with leases, retries and live progress.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.sio = server.create_server(app, settings.cors_origins)
    _install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["Retry-After"],
        )
    app.include_router(health.router)
    for module in (jobs, training, lock, leases, hosts, admin, metrics, models, ollama, openai):
        app.include_router(module.router)
    web.mount_page(app, settings.web_dir)
    openapi.install(app, JOB_TYPES)
    return app
