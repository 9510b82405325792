"""Follow one job's output as it is produced, for callers that wait on an HTTP stream (the drop-in
Ollama and OpenAI fronts). Tokens come from the in-process ProgressHub when this process runs the
job; the job row (progress text and status) is the fallback when another process runs it, and the
final word on how it ended."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from app.db import Executor
from app.models.job import TERMINAL_STATUSES, JobStatus
from app.services.queue import store
from app.services.queue.progress import ProgressHub

ROW_POLL_SECONDS = 0.25  # how often the row is read when no token arrived in this process


@dataclass(frozen=True)
class Text:
    delta: str


@dataclass(frozen=True)
class Ended:
    job: store.Job


async def follow(db: Executor, hub: ProgressHub | None, job_id: uuid.UUID) -> AsyncIterator[Text | Ended]:
    """Text deltas in order, then Ended with the finished job."""
    inbox = hub.subscribe(job_id) if hub is not None else None
    sent = 0  # characters of the job's text already yielded
    try:
        while True:
            event = await _next_event(inbox)
            if event is not None and not event.get("ended"):
                delta = event.get("text_delta") or ""
                if delta:
                    sent += len(delta)
                    yield Text(delta)
                continue
            job = await store.get_job(db, job_id)
            if job is None:
                return
            text = str(job.progress.get("text", ""))
            if len(text) > sent:  # produced in another process (or before we subscribed)
                yield Text(text[sent:])
                sent = len(text)
            if job.status in TERMINAL_STATUSES:
                final = str((job.result_data or {}).get("response") or _chat_text(job) or "")
                if job.status == JobStatus.COMPLETED and len(final) > sent:
                    yield Text(final[sent:])
                yield Ended(job)
                return
    finally:
        if inbox is not None and hub is not None:
            hub.unsubscribe(job_id, inbox)


async def _next_event(inbox: asyncio.Queue[dict] | None) -> dict | None:
    if inbox is None:
        await asyncio.sleep(ROW_POLL_SECONDS)
        return None
    try:
        return await asyncio.wait_for(inbox.get(), timeout=ROW_POLL_SECONDS)
    except TimeoutError:
        return None


def _chat_text(job: store.Job) -> str:
    message = (job.result_data or {}).get("message")
    return str(message.get("content", "")) if isinstance(message, dict) else ""
