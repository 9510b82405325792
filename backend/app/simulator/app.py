"""The simulator's ASGI app: Ollama's routes, the /_sim/ control surface, Ollama's 404 and 405."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.simulator import control, embedding, generation, management
from app.simulator.responses import RAW_SEND_KEY, ApiError, Tracked, error_response, server_transport
from app.simulator.state import SimConfig, SimState
from app.simulator.stats import RequestRecord, client_gone

Handler = Callable[[Request, RequestRecord, SimState], Awaitable[Response]]


def _counted(state: SimState, endpoint: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap an Ollama endpoint: log it in the stats from arrival until its reply has been sent."""

    async def endpoint_function(request: Request) -> Response:
        transport = server_transport(request.scope)
        record = state.stats.begin(endpoint, client_gone(transport) if transport is not None else None)
        try:
            response = await handler(request, record, state)
        except ApiError as error:
            response = error_response(error.status, error.message)
        except ClientDisconnect:  # gone while sending the body: nothing to answer
            state.stats.finish(record, "disconnect", None)
            return Response(status_code=400)
        except BaseException:
            state.stats.finish(record, "error", 500)
            raise
        return Tracked(response, record, state.stats)

    return endpoint_function


async def _root(_request: Request) -> Response:
    return PlainTextResponse("Ollama is running")


async def _not_found(_request: Request, _exc: Exception) -> Response:
    return PlainTextResponse("404 page not found", status_code=404)


async def _not_allowed(_request: Request, _exc: Exception) -> Response:
    return PlainTextResponse("405 method not allowed", status_code=405)


def _api_routes(state: SimState) -> list[Route]:
    table: list[tuple[str, str, Handler, list[str]]] = [
        ("/api/version", "version", management.version, ["GET"]),
        ("/api/tags", "tags", management.tags, ["GET"]),
        ("/api/ps", "ps", management.ps, ["GET"]),
        ("/api/generate", "generate", generation.generate, ["POST"]),
        ("/api/chat", "chat", generation.chat, ["POST"]),
        ("/api/embed", "embed", embedding.embed, ["POST"]),
        ("/api/embeddings", "embeddings", embedding.embeddings, ["POST"]),
        ("/api/show", "show", management.show, ["POST"]),
        ("/api/pull", "pull", management.pull, ["POST"]),
        ("/api/push", "push", management.push, ["POST"]),
        ("/api/create", "create", management.create, ["POST"]),
        ("/api/copy", "copy", management.copy, ["POST"]),
        ("/api/delete", "delete", management.delete, ["DELETE"]),
        ("/api/blobs/{digest}", "blobs", management.blob, ["HEAD", "POST"]),
    ]
    return [Route(path, _counted(state, name, handler), methods=methods) for path, name, handler, methods in table]


def _control_routes(state: SimState) -> list[Route]:
    handlers = control.routes_for(state)
    return [
        Route("/_sim/fail", handlers["fail"], methods=["POST"]),
        Route("/_sim/config", handlers["config"], methods=["GET", "POST"]),
        Route("/_sim/stats", handlers["stats"], methods=["GET"]),
        Route("/_sim/reset", handlers["reset"], methods=["POST"]),
        Route("/_sim/hold", handlers["hold"], methods=["POST"]),
        Route("/_sim/release", handlers["release"], methods=["POST"]),
    ]


class SimulatorApp:
    """The ASGI entry. It puts the server's own `send` into the scope before Starlette wraps it, so
    an injected `drop` can find the connection to close (see responses.DropResponse)."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.state = SimState(config or SimConfig())
        routes = [Route("/", _root, methods=["GET"]), *_api_routes(self.state), *_control_routes(self.state)]
        handlers = {404: _not_found, 405: _not_allowed}
        self.starlette = Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_SEND_KEY] = send
        await self.starlette(scope, receive, send)


def create_app(config: SimConfig | None = None) -> SimulatorApp:
    return SimulatorApp(config)
