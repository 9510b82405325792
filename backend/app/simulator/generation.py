"""The GPU endpoints: /api/generate, /api/chat, /api/embed and the older /api/embeddings."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.simulator import text
from app.simulator.bodies import Body, int_option, read_body, stop_option
from app.simulator.lookup import MIDSTREAM, failure_response, require, resolve
from app.simulator.models import COMPLETION, THINKING, TOOLS, ModelEntry
from app.simulator.responses import ApiError, Event, Line, Whole, WorkResponse, json_response
from app.simulator.state import RequestRecord, Resident, SimState
from app.simulator.timefmt import rfc3339

MIDSTREAM_AFTER = 2  # tokens sent before an injected mid-stream error


@dataclass
class Plan:
    """The reply decided up front: its tokens and why it ends."""

    tokens: list[str]
    done_reason: str
    prompt_tokens: int
    prompt_ids: list[int]


def _cut_at_stop(tokens: list[str], stops: list[str]) -> tuple[list[str], bool]:
    whole = "".join(tokens)
    cut = min((index for index in (whole.find(stop) for stop in stops) if index >= 0), default=-1)
    if cut < 0:
        return tokens, False
    kept: list[str] = []
    length = 0
    for token in tokens:
        if length >= cut:
            break
        kept.append(token[: cut - length])
        length += len(token)
    return [token for token in kept if token], True


def plan_reply(seed_text: str, fmt: str | dict[str, Any] | None, options: dict[str, Any], count: int) -> list[str]:
    seed = int_option(options, "seed")
    if fmt is None:
        return text.reply_tokens(seed_text, count, seed)
    return text.split_pieces(text.json_reply(fmt, seed_text, seed), count)


def make_plan(seed_text: str, fmt: Any, options: dict[str, Any], count: int, prompt_tokens: int) -> Plan:
    """Tokens cut by a stop sequence (reason `stop`), then by `num_predict` (reason `length`)."""
    tokens, _ = _cut_at_stop(plan_reply(seed_text, fmt, options, count), stop_option(options))
    limit = int_option(options, "num_predict")
    if limit is not None and 0 < limit < len(tokens):
        return Plan(tokens[:limit], "length", prompt_tokens, text.token_ids(seed_text))
    return Plan(tokens, "stop", prompt_tokens, text.token_ids(seed_text))


@dataclass
class Shape:
    """What generate's and chat's chunks look like; they differ only in where the text goes."""

    model: str
    chat: bool

    def _head(self) -> dict[str, Any]:
        return {"model": self.model, "created_at": rfc3339()}

    def _text(self, piece: str) -> dict[str, Any]:
        return {"message": {"role": "assistant", "content": piece}} if self.chat else {"response": piece}

    def chunk(self, piece: str) -> dict[str, Any]:
        return {**self._head(), **self._text(piece), "done": False}

    def final(self, piece: str, reason: str, context: list[int], timings: dict[str, int]) -> dict[str, Any]:
        extra = {} if self.chat else {"context": context}
        return {**self._head(), **self._text(piece), "done": True, "done_reason": reason, **extra, **timings}


def _timings(**values: int) -> dict[str, int]:
    """Ollama leaves zero timings and counts out."""
    return {key: value for key, value in values.items() if value}


@dataclass
class Job:
    """One accepted GPU request."""

    state: SimState
    record: RequestRecord
    entry: ModelEntry
    raw_model: str
    keep_alive: float | None
    num_ctx: int | None
    stream: bool = False
    resident: Resident | None = None

    async def acquire(self) -> int:
        """Load (if cold) and hold the model; the nanoseconds that took."""
        config = self.state.config
        residency = self.state.residency
        self.resident, load_ns = await residency.acquire(self.entry, self.keep_alive, self.num_ctx, config.load_delay)
        return load_ns

    def release(self) -> None:
        """Let go of the model (idempotent). Done before the last reply bytes, so a client that has
        the reply already sees the model idle (and, with keep_alive 0, unloaded) in /api/ps."""
        if self.resident is not None:
            self.state.residency.release(self.resident)
            self.resident = None


async def _generate_events(job: Job, shape: Shape, plan: Plan, midstream: bool) -> AsyncIterator[Event]:
    load_ns = await job.acquire()
    try:
        # No prompt evaluation is simulated; its measured duration is tiny but, as Ollama's, not zero.
        prompt_started = time.perf_counter_ns()
        eval_started = time.perf_counter_ns()
        sent: list[str] = []
        for token in plan.tokens:
            if midstream and len(sent) == MIDSTREAM_AFTER:
                break
            await asyncio.sleep(job.state.config.token_delay)
            sent.append(token)
            job.record.tokens += 1
            if job.stream:
                yield Line(shape.chunk(token))
        job.release()
        if midstream:
            yield Line({"error": MIDSTREAM}, last=True) if job.stream else Whole({"error": MIDSTREAM}, 500)
            return
        finished = time.perf_counter_ns()
        timings = _timings(
            total_duration=finished - job.record.start_ns,
            load_duration=load_ns,
            prompt_eval_count=plan.prompt_tokens,
            prompt_eval_duration=max(eval_started - prompt_started, 1),
            eval_count=len(sent),
            eval_duration=max(finished - eval_started, 1) if sent else 0,
        )
        reply = "".join(sent)
        final = shape.final(
            "" if job.stream else reply, plan.done_reason, plan.prompt_ids + text.token_ids(reply), timings
        )
        yield Line(final, last=True) if job.stream else Whole(final)
    finally:
        job.release()


async def _load_events(job: Job, reply: dict[str, Any]) -> AsyncIterator[Event]:
    await job.acquire()
    job.release()
    yield Whole(reply)


def _load_or_unload(job: Job, shape: Shape, failure: str | None, endpoint: str) -> Response:
    """An empty prompt: unload with keep_alive 0, else load; one JSON object either way."""
    head = shape.final("", "load", [], {})
    head.pop("context", None)
    if job.keep_alive == 0:
        job.state.residency.unload(job.entry)
        return json_response({**head, "done_reason": "unload"})
    if failure:
        return failure_response(failure, endpoint, job.raw_model)
    return WorkResponse(_load_events(job, head))


def _check_think_and_tools(entry: ModelEntry, body: Body, raw: str) -> None:
    think = body.data.get("think")
    if think not in (None, False) and not entry.has(THINKING):
        raise ApiError(400, f'"{raw}" does not support thinking')
    if body.list("tools") and not entry.has(TOOLS):
        raise ApiError(400, f'"{raw}" does not support tools')


def _job(state: SimState, record: RequestRecord, entry: ModelEntry, raw: str, body: Body) -> Job:
    options = body.dict("options")
    return Job(state, record, entry, raw, body.keep_alive(), int_option(options, "num_ctx"), body.bool("stream", True))


def _reply(
    state: SimState, job: Job, shape: Shape, body: Body, endpoint: str, seed_text: str, prompt_tokens: int
) -> Response:
    """Shared tail of generate and chat, once the model is known: unload, load, or generate."""
    empty = not seed_text if endpoint == "generate" else not body.list("messages")
    if empty and job.keep_alive == 0:
        return _load_or_unload(job, shape, None, endpoint)  # no scheduler involved: never fails
    require(job.entry, COMPLETION, job.raw_model, endpoint)
    _check_think_and_tools(job.entry, body, job.raw_model)
    # Bad options are a 400 before an injected failure is used up.
    plan = (
        None if empty else make_plan(seed_text, body.format(), body.dict("options"), state.config.tokens, prompt_tokens)
    )
    failure = state.take_failure(endpoint)
    if plan is None:
        return _load_or_unload(job, shape, failure, endpoint)
    if failure == "invalid_json":  # the answer is cut short, as when num_predict ends it mid-object
        plan = dataclasses.replace(plan, tokens=plan.tokens[: max(1, len(plan.tokens) // 2)], done_reason="length")
        failure = None
    if failure and failure != "midstream":
        return failure_response(failure, endpoint, job.raw_model)
    return WorkResponse(_generate_events(job, shape, plan, midstream=failure == "midstream"))


async def generate(request: Request, record: RequestRecord, state: SimState) -> Response:
    body = await read_body(request, "GenerateRequest", empty_ok=True)
    raw, prompt, system = body.str("model"), body.str("prompt"), body.str("system")
    record.model, record.prompt = raw, prompt or None
    body.format()  # a bad format is a 400 before anything else happens
    job = _job(state, record, resolve(state, raw, "generate"), raw, body)
    context = body.list("context") or []
    prompt_tokens = text.count_tokens(f"{system}\n{prompt}") + len(context)
    return _reply(state, job, Shape(raw, chat=False), body, "generate", prompt, prompt_tokens)


def _messages(body: Body) -> list[dict[str, Any]]:
    messages = body.list("messages") or []
    for message in messages:
        ok = isinstance(message, dict) and isinstance(message.get("role", ""), str)
        if not ok or not isinstance(message.get("content") or "", str):
            raise ApiError(400, "json: cannot unmarshal into Go struct field ChatRequest.messages of type api.Message")
    return messages


def _chat_seed(messages: list[dict[str, Any]]) -> str:
    """The last user message drives the reply (the last message of any role if none is a user's)."""
    users = [message for message in messages if message.get("role") == "user"]
    last = (users or messages or [{}])[-1]
    return str(last.get("content") or "")


async def chat(request: Request, record: RequestRecord, state: SimState) -> Response:
    body = await read_body(request, "ChatRequest")
    raw = body.str("model")
    messages = _messages(body)
    record.model, record.prompt = raw, _chat_seed(messages) if messages else None
    body.format()
    job = _job(state, record, resolve(state, raw, "chat"), raw, body)
    prompt_tokens = sum(text.count_tokens(str(message.get("content") or "")) + 4 for message in messages)
    seed = _chat_seed(messages)
    return _reply(state, job, Shape(raw, chat=True), body, "chat", seed, prompt_tokens)


# --- embeddings ------------------------------------------------------------------------------


def _embed_inputs(body: Body) -> list[str]:
    value = body.data.get("input")
    if value is None or value == "":
        return []
    inputs = [value] if isinstance(value, str) else value
    if not isinstance(inputs, list) or not all(isinstance(item, str) for item in inputs):
        raise ApiError(400, "invalid input type")
    return inputs


async def _embed_events(job: Job, inputs: list[str], dimensions: int | None, truncate: bool) -> AsyncIterator[Event]:
    load_ns = await job.acquire()
    num_ctx = job.resident.num_ctx if job.resident else 0
    try:
        vectors = []
        for item in inputs:
            if not truncate and text.count_tokens(item) > num_ctx:
                job.release()
                yield Whole({"error": "the input length exceeds the context length"}, 400)
                return
            await asyncio.sleep(job.state.config.token_delay)  # one step of GPU time per input
            vectors.append(_vector(job.entry, item, dimensions))
        job.release()
        yield Whole(
            {
                "model": job.raw_model,
                "embeddings": vectors,
                **_timings(
                    total_duration=time.perf_counter_ns() - job.record.start_ns,
                    load_duration=load_ns,
                    prompt_eval_count=sum(text.count_tokens(item) for item in inputs),
                ),
            }
        )
    finally:
        job.release()


def _vector(entry: ModelEntry, item: str, dimensions: int | None) -> list[float]:
    vector = text.embedding(item, entry.spec.embedding_length)
    if dimensions and 0 < dimensions < len(vector):
        vector = text.normalize(vector[:dimensions])
    return vector


async def embed(request: Request, record: RequestRecord, state: SimState) -> Response:
    body = await read_body(request, "EmbedRequest")
    raw = body.str("model")
    inputs = _embed_inputs(body)
    record.model, record.prompt = raw, "\n".join(inputs) if inputs else None
    job = Job(state, record, resolve(state, raw, "embed"), raw, body.keep_alive(), None)
    dimensions = int_option(body.data, "dimensions")
    failure = state.take_failure("embed")
    if failure:
        return failure_response(failure, "embed", raw)
    if not inputs:
        return WorkResponse(_load_events(job, {"model": raw, "embeddings": []}))
    return WorkResponse(_embed_events(job, inputs, dimensions, body.bool("truncate", True)))


async def _legacy_embed_events(job: Job, prompt: str) -> AsyncIterator[Event]:
    await job.acquire()
    try:
        await asyncio.sleep(job.state.config.token_delay)
        job.release()
        yield Whole({"embedding": text.embedding(prompt, job.entry.spec.embedding_length)})
    finally:
        job.release()


async def embeddings(request: Request, record: RequestRecord, state: SimState) -> Response:
    """The older endpoint: `prompt` in, one `embedding` out."""
    body = await read_body(request, "EmbeddingRequest")
    raw, prompt = body.str("model"), body.str("prompt")
    record.model, record.prompt = raw, prompt
    job = Job(state, record, resolve(state, raw, "embeddings"), raw, body.keep_alive(), None)
    failure = state.take_failure("embeddings")
    if failure:
        return failure_response(failure, "embeddings", raw)
    if not prompt:
        return WorkResponse(_load_events(job, {"embedding": []}))
    return WorkResponse(_legacy_embed_events(job, prompt))
