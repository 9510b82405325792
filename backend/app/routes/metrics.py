"""`GET /metrics` in Prometheus' text format (no token: scrapers run inside the deployment)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.services.queue import metrics

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def prometheus_metrics(request: Request) -> Response:
    """Jobs by status and type, queue length, GPU busy seconds, run and wait time histograms, retries, rescues."""
    async with request.app.state.engine.connect() as conn:
        body = await metrics.render(conn)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
