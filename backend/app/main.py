"""The ASGI app: built by `create_app`, with the database and processor started in its lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import db, migrate
from app.config import Settings, load_settings
from app.errors import AppError
from app.routes import health, jobs
from app.services.processor import Processor

log = logging.getLogger(__name__)


async def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded PostgreSQL (started in a thread: pgserver blocks)."""
    if settings.database_url:
        return settings.database_url
    return await asyncio.to_thread(db.start_embedded_postgres, settings.data_dir)


def _error(status: int, code: str, message: str, details: object = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details or {}}}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_request: Request, error: AppError) -> JSONResponse:
        return _error(error.status_code, error.code, error.message, error.details)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(part) for part in item["loc"]), "message": item["msg"]} for item in error.errors()
        ]
        summary = "; ".join(f"{item['field']}: {item['message']}" for item in fields)
        return _error(422, "invalid_input", f"Invalid request: {summary}", {"fields": fields})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, "http_error", str(error.detail))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = await resolve_database_url(settings)
        await migrate.upgrade_async(url)
        engine = db.create_engine(url)
        processor = None
        if settings.run_processor:
            processor = Processor(settings=settings, engine=engine, database_url=url)
            await processor.start()
        app.state.settings, app.state.engine, app.state.processor = settings, engine, processor
        log.info("aijobs ready on http://%s:%d", settings.host, settings.port)
        try:
            yield
        finally:
            if processor is not None:
                await processor.stop()
            await engine.dispose()

    app = FastAPI(
        title="aijobs",
        summary="Share one GPU behind Ollama: queued AI jobs with leases, retries and live progress.",
        version="0.1.0",
        lifespan=lifespan,
    )
    _install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(jobs.router)
    return app
