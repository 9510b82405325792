"""Follow one job's output as it is produced, for callers that wait on an HTTP stream (the drop-in
Ollama and OpenAI fronts): its text, a thinking model's reasoning, the tool calls a model asks for, and
other progress (a model download's bytes). Pieces come from the in-process ProgressHub when this
process runs the job; the job row (progress and status) is the fallback when another process runs it,
and the final word on how it ended."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from app.db import Executor
from app.models.job import TERMINAL_STATUSES, JobStatus
from app.services.queue import store
from app.services.queue.progress import ProgressHub

ROW_POLL_SECONDS = 0.25  # how often the row is read when nothing arrived in this process
HUB_STREAMS = ("text_delta", "thinking_delta", "tool_calls")  # a hub event's pieces of the answer
HUB_BOOKKEEPING = ("attempt", "ended")  # what a hub event says about the run, not progress to pass on
INTERRUPTED = (
    "The GPU work was interrupted mid-answer (its worker lost the GPU lease or Ollama failed) and the job "
    "started again; the answer sent so far is incomplete. Send the request again."
)
ROW_STREAMS = ("text", "thinking", "tool_calls")  # the same, gathered, in the job row's progress


@dataclass(frozen=True)
class Text:
    delta: str


@dataclass(frozen=True)
class Thinking:
    delta: str


@dataclass(frozen=True)
class ToolCalls:
    calls: list[dict[str, Any]]


@dataclass(frozen=True)
class Progress:
    """Progress that is not text (a download's status and bytes): the job's progress fields now."""

    fields: dict[str, Any]


@dataclass(frozen=True)
class Ended:
    job: store.Job


@dataclass(frozen=True)
class Interrupted(Ended):
    """The job started a new attempt after part of an answer was sent: a second answer cannot be glued to
    the first one's beginning. `job` is shown as failed with why; the caller should stop the job."""


Event = Text | Thinking | ToolCalls | Progress | Ended


@dataclass
class _Sent:
    """How much of each stream the caller has had, so the row fallback sends only what is new."""

    text: int = 0
    thinking: int = 0
    tool_calls: int = 0
    progress: dict[str, Any] = field(default_factory=dict)
    attempt: int | None = None  # the attempt the caller has had output from

    def new_attempt(self, attempt: int | None) -> bool:
        """Whether `attempt` is a run after the one followed so far, once output of that one was sent
        (before any output, the new attempt is simply followed from its start)."""
        if attempt is None or attempt == self.attempt:
            return False
        if self.attempt is not None and (self.text or self.thinking or self.tool_calls):
            return True
        self.attempt, self.text, self.thinking, self.tool_calls = attempt, 0, 0, 0
        return False

    def news(self, text: str, thinking: str, calls: list[dict[str, Any]]) -> list[Event]:
        found: list[Event] = []
        if len(thinking) > self.thinking:
            found.append(Thinking(thinking[self.thinking :]))
            self.thinking = len(thinking)
        if len(calls) > self.tool_calls:
            found.append(ToolCalls(calls[self.tool_calls :]))
            self.tool_calls = len(calls)
        if len(text) > self.text:
            found.append(Text(text[self.text :]))
            self.text = len(text)
        return found

    def progress_news(self, progress: dict[str, Any]) -> list[Event]:
        fields = {key: value for key, value in progress.items() if key not in ROW_STREAMS}
        if not fields or fields == self.progress:
            return []
        self.progress = fields
        return [Progress(fields)]


async def follow(
    db: Executor, hub: ProgressHub | None, job_id: uuid.UUID, *, interrupt: bool = True
) -> AsyncIterator[Event]:
    """Thinking, tool calls and text in the order they were produced, progress as it changes, then
    Ended with the finished job — or Interrupted when, with `interrupt`, the job started again after
    part of an answer was sent (without it, a caller that only waits for the end sees every attempt)."""
    inbox = hub.subscribe(job_id) if hub is not None else None
    sent = _Sent()
    try:
        while True:
            event = await _next_event(inbox)
            if event is not None and not event.get("ended"):
                if interrupt and sent.new_attempt(event.get("attempt")):
                    job = await store.get_job(db, job_id)
                    if job is not None:
                        yield _interrupted(job)
                    return
                for found in _from_hub(event, sent):
                    yield found
                continue
            # The job's run ended here (the row as its outcome wrote it), or nothing came: read the row.
            written = event.get("job") if event is not None else None
            job = written if isinstance(written, store.Job) else await store.get_job(db, job_id)
            if job is None:
                return
            if interrupt and job.status == JobStatus.RUNNING and sent.new_attempt(job.attempt):
                yield _interrupted(job)
                return
            progress = job.progress
            texts = sent.news(
                str(progress.get("text", "")), str(progress.get("thinking", "")), list(progress.get("tool_calls", []))
            )
            for found in [*texts, *sent.progress_news(progress)]:
                yield found
            if job.status in TERMINAL_STATUSES:
                if job.status == JobStatus.COMPLETED:  # the result is whole even if the row's progress lagged
                    for found in sent.news(*_answer(job.result_data or {})):
                        yield found
                yield Ended(job)
                return
    finally:
        if inbox is not None and hub is not None:
            hub.unsubscribe(job_id, inbox)


def _from_hub(event: dict[str, Any], sent: _Sent) -> list[Event]:
    found: list[Event] = []
    if thinking := event.get("thinking_delta"):
        sent.thinking += len(thinking)
        found.append(Thinking(thinking))
    if (calls := event.get("tool_calls")) and len(calls) > sent.tool_calls:
        found.append(ToolCalls(calls[sent.tool_calls :]))
        sent.tool_calls = len(calls)
    if text := event.get("text_delta"):
        sent.text += len(text)
        found.append(Text(text))
    fields = {
        key: value
        for key, value in event.items()
        if key not in HUB_STREAMS and key not in HUB_BOOKKEEPING and value is not None
    }
    if fields:
        found.extend(sent.progress_news({**sent.progress, **fields}))
    return found


def _interrupted(job: store.Job) -> Interrupted:
    return Interrupted(
        dataclasses.replace(job, status=JobStatus.FAILED, error_kind="interrupted", error_message=INTERRUPTED)
    )


def _answer(result: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """The text, reasoning and tool calls of a completed generate or chat job's result."""
    message = result.get("message")
    if isinstance(message, dict):
        return str(message.get("content") or ""), str(message.get("thinking") or ""), message.get("tool_calls") or []
    return str(result.get("response") or ""), str(result.get("thinking") or ""), []


async def _next_event(inbox: asyncio.Queue[dict] | None) -> dict | None:
    if inbox is None:
        await asyncio.sleep(ROW_POLL_SECONDS)
        return None
    try:
        return await asyncio.wait_for(inbox.get(), timeout=ROW_POLL_SECONDS)
    except TimeoutError:
        return None
