"""The embedding endpoints: /api/embed and the older /api/embeddings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response

from app.simulator import text
from app.simulator.bodies import Body, int_option, read_body
from app.simulator.gpu import Job, load_events, refused, timings
from app.simulator.lookup import failure_response, resolve
from app.simulator.models import ModelEntry
from app.simulator.names import parse_name
from app.simulator.residency import LoadRefused
from app.simulator.responses import ApiError, Event, Whole, WorkResponse
from app.simulator.state import SimState
from app.simulator.stats import RequestRecord


def _embed_inputs(body: Body) -> list[str]:
    value = body.data.get("input")
    if value is None or value == "":
        return []
    inputs = [value] if isinstance(value, str) else value
    if not isinstance(inputs, list) or not all(isinstance(item, str) for item in inputs):
        raise ApiError(400, "invalid input type")
    return inputs


async def _embed_events(job: Job, inputs: list[str], dimensions: int | None, truncate: bool) -> AsyncIterator[Event]:
    try:
        load_ns = await job.acquire()
    except LoadRefused as error:
        yield refused(error)
        return
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
                **timings(
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
        return WorkResponse(load_events(job, {"model": raw, "embeddings": []}))
    return WorkResponse(_embed_events(job, inputs, dimensions, body.bool("truncate", True)))


async def _legacy_embed_events(job: Job, prompt: str) -> AsyncIterator[Event]:
    try:
        await job.acquire()
    except LoadRefused as error:
        yield refused(error)
        return
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
    if raw and parse_name(raw) is None:
        raise ApiError(400, "model is required")  # this older handler's word for an invalid name
    job = Job(state, record, resolve(state, raw, "embeddings"), raw, body.keep_alive(), None)
    failure = state.take_failure("embeddings")
    if failure:
        return failure_response(failure, "embeddings", raw)
    if not prompt:
        return WorkResponse(load_events(job, {"embedding": []}))
    return WorkResponse(_legacy_embed_events(job, prompt))
