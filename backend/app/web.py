"""The page (frontend/, built by Vite) served at `/` by the same process as the API — and, at the same
`/`, Ollama's "Ollama is running" for the programs that probe it there before they use the drop-in
Ollama API (Open WebUI, editor assistants, `curl`): a browser asks for HTML, they do not."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

OLLAMA_IS_RUNNING = "Ollama is running"
NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>aijobs</title>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>aijobs is running</h1>
<p>The page has not been built yet (no <code>{index}</code>). <code>make run</code> builds it; or run
<code>cd frontend &amp;&amp; npm install &amp;&amp; npm run build</code> and reload.</p>
<p>The API works meanwhile: see <a href="/docs">/docs</a>.</p>
"""


def wants_page(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def mount_page(app: FastAPI, web_dir: Path) -> None:
    """Mounted last, so every API route wins; unknown paths under it are 404 in the usual JSON shape."""
    index = web_dir / "index.html"

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def root(request: Request) -> Response:
        if not wants_page(request):
            return PlainTextResponse(OLLAMA_IS_RUNNING)
        if index.is_file():
            return FileResponse(index)
        return HTMLResponse(NOT_BUILT.format(index=index), status_code=200)

    if index.is_file():
        app.mount("/", StaticFiles(directory=web_dir, html=True), name="page")
