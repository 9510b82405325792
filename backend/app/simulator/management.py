"""Model management: version, tags, ps, show, pull, push, create, copy, delete, and blob upload for create."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.simulator import models
from app.simulator.bodies import Body, read_body
from app.simulator.lookup import MIDSTREAM, failure_response, parse_or_400, resolve
from app.simulator.models import ModelEntry
from app.simulator.names import go_quote, parse_name
from app.simulator.residency import Resident
from app.simulator.responses import ApiError, Event, Line, Whole, WorkResponse, json_response
from app.simulator.state import SimState
from app.simulator.stats import RequestRecord
from app.simulator.timefmt import rfc3339, rfc3339_forever

VERSION = "0.12.6"
UNKNOWN_MANIFEST = "pull model manifest: file does not exist"
_DIGEST = re.compile(r"sha256[:-]([0-9a-fA-F]{64})")


def _failed(state: SimState, endpoint: str, raw: str = "") -> Response | None:
    """The reply for an injected failure on a non-streaming endpoint, if one is pending."""
    kind = state.take_failure(endpoint)
    return failure_response(kind, endpoint, raw) if kind else None


async def version(_request: Request, _record: RequestRecord, state: SimState) -> Response:
    return _failed(state, "version") or json_response({"version": VERSION})


async def tags(_request: Request, _record: RequestRecord, state: SimState) -> Response:
    body = {"models": [models.tag_item(entry) for entry in state.catalogue.newest_first()]}
    return _failed(state, "tags") or json_response(body)


def _ps_item(resident: Resident, expiry: float, now: float) -> dict[str, Any]:
    entry = resident.entry
    return {
        "name": entry.name.display,
        "model": entry.name.display,
        "size": resident.size,
        "digest": entry.digest,
        "details": models.details(entry),
        "expires_at": rfc3339_forever(now) if expiry == float("inf") else rfc3339(expiry),
        "size_vram": resident.size,  # a model that does not fit is refused, never split with the CPU
        "context_length": resident.num_ctx,
    }


async def ps(_request: Request, _record: RequestRecord, state: SimState) -> Response:
    now = time.time()
    body = {"models": [_ps_item(resident, expiry, now) for resident, expiry in state.residency.loaded(now)]}
    return _failed(state, "ps") or json_response(body)


async def show(request: Request, record: RequestRecord, state: SimState) -> Response:
    body = await read_body(request, "ShowRequest")
    raw = record.model = body.model()
    entry = resolve(state, raw, "show")
    return _failed(state, "show", raw) or json_response(models.show_body(entry))


async def delete(request: Request, record: RequestRecord, state: SimState) -> Response:
    body = await read_body(request, "DeleteRequest")
    raw = record.model = body.model()
    if parse_name(raw) is None:
        raise ApiError(400, f"name {go_quote(raw)} is invalid")
    entry = resolve(state, raw, "delete")
    failed = _failed(state, "delete", raw)
    if failed:
        return failed
    state.catalogue.remove(entry.name)
    state.residency.unload(entry)  # a deleted model should not linger in /api/ps
    return Response(status_code=200)


async def copy(request: Request, record: RequestRecord, state: SimState) -> Response:
    """A second name for an installed model (Ollama copies the manifest: same digest). 200, no body."""
    body = await read_body(request, "CopyRequest")
    source, destination = body.str("source"), body.str("destination")
    record.model = source
    source_name, destination_name = parse_name(source), parse_name(destination)
    if source_name is None:
        raise ApiError(400, f"source {go_quote(source)} is invalid")
    if destination_name is None:
        raise ApiError(400, f"destination {go_quote(destination)} is invalid")
    entry = state.catalogue.get(source_name)
    if entry is None:
        raise ApiError(404, f"model {go_quote(source)} not found")
    failed = _failed(state, "copy", source)
    if failed:
        return failed
    origin = entry.origin or entry.key
    copied = dataclasses.replace(entry, name=destination_name, origin=origin, modified_at=time.time())
    state.catalogue.add(copied)
    return Response(status_code=200)


# --- progress streams (pull, create) ---------------------------------------------------------


async def _paced(
    state: SimState, statuses: Iterator[dict[str, Any]], stream: bool, midstream: bool
) -> AsyncIterator[Event]:
    """Progress lines one `pull_chunk_delay` apart. Not streamed: the work still takes its time,
    then the last status (or a 500 with the error) is the reply, as Ollama's `waitForStream` does."""
    last: dict[str, Any] = {"status": "success"}
    for index, status in enumerate(statuses):
        if index:
            await asyncio.sleep(state.config.pull_chunk_delay)
        if midstream and index == 1:
            status = {"error": MIDSTREAM}
        if "error" in status and not stream:
            yield Whole(status, 500)
            return
        ends = "error" in status or status.get("status") == "success"
        if stream:
            yield Line(status, last=ends)
        last = status
        if ends:
            break
    if not stream:
        yield Whole(last)


def _layer_progress(digest: str, size: int, verb: str = "pulling") -> Iterator[dict[str, Any]]:
    head = {"status": f"{verb} {digest[:12]}", "digest": f"sha256:{digest}", "total": size}
    yield head  # `completed` is left out while it is 0
    steps = 5 if size > 1_000_000 else 1
    for step in range(1, steps + 1):
        yield {**head, "completed": size * step // steps}


def _pull_statuses(state: SimState, entry: ModelEntry | None) -> Iterator[dict[str, Any]]:
    yield {"status": "pulling manifest"}
    if entry is None:
        yield {"error": UNKNOWN_MANIFEST}
        return
    for digest, size in entry.layers():
        yield from _layer_progress(digest, size)
    yield {"status": "verifying sha256 digest"}
    entry.modified_at = time.time()
    state.catalogue.add(entry)
    yield {"status": "writing manifest"}
    yield {"status": "success"}


def _pull_target(state: SimState, name: models.ModelName) -> ModelEntry | None:
    """What a pull of `name` fetches: a registry model, or (re-pulled) one already installed."""
    installed = state.catalogue.get(name)
    if installed is not None:
        return dataclasses.replace(installed)
    return models.entry_for_registry_pull(name, time.time())


async def pull(request: Request, record: RequestRecord, state: SimState) -> Response:
    body = await read_body(request, "PullRequest")
    raw = record.model = body.model()
    name = parse_or_400(raw)
    stream = body.bool("stream", True)
    kind = state.take_failure("pull")
    if kind and kind != "midstream":
        return failure_response(kind, "pull", raw)
    statuses = _pull_statuses(state, _pull_target(state, name))
    return WorkResponse(_paced(state, statuses, stream, midstream=kind == "midstream"))


def _manifest_path(name: models.ModelName) -> str:
    return f"{models.MODELS_DIR}/manifests/{name.host}/{name.namespace}/{name.model}/{name.tag}"


def _push_statuses(name: models.ModelName, entry: ModelEntry | None) -> Iterator[dict[str, Any]]:
    """Ollama's PushModel: the local manifest, each layer uploaded with progress, then the manifest.
    The fake registry takes any push."""
    yield {"status": "retrieving manifest"}
    if entry is None:
        yield {"status": "couldn't retrieve manifest"}
        yield {"error": f"open {_manifest_path(name)}: no such file or directory"}
        return
    for digest, size in entry.layers():
        yield from _layer_progress(digest, size, "pushing")
    yield {"status": "pushing manifest"}
    yield {"status": "success"}


async def push(request: Request, record: RequestRecord, state: SimState) -> Response:
    body = await read_body(request, "PushRequest")
    raw = record.model = body.model()
    name = parse_or_400(raw)
    kind = state.take_failure("push")
    if kind and kind != "midstream":
        return failure_response(kind, "push", raw)
    statuses = _push_statuses(name, state.catalogue.get(name))
    return WorkResponse(_paced(state, statuses, body.bool("stream", True), midstream=kind == "midstream"))


def _layer(*parts: object) -> str:
    return "sha256:" + hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def _create_statuses(
    state: SimState, entry: ModelEntry, base: ModelEntry | None, body: Body
) -> Iterator[dict[str, Any]]:
    if base is not None:
        yield {"status": f"using existing layer sha256:{base.layers()[0][0]}"}
    for digest in [*entry.files.values(), *entry.adapters.values()]:
        yield {"status": f"using existing layer {digest}"}
    quantize = body.str("quantize")
    if quantize:
        yield {"status": f"quantizing F16 model to {quantize.upper()}"}
    for field in ("template", "system", "license", "parameters", "messages"):
        if body.data.get(field):
            yield {"status": f"creating new layer {_layer(field, body.data[field])}"}
    yield {"status": "writing manifest"}
    entry.modified_at = time.time()
    state.catalogue.add(entry)
    yield {"status": "success"}


def _license(body: Body) -> str | None:
    value = body.data.get("license")
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return value if isinstance(value, str) else None


def _created_entry(name: models.ModelName, base: ModelEntry | None, body: Body) -> ModelEntry:
    start = base or models.entry_from_files(name, time.time())
    changes: dict[str, Any] = {
        "name": name,
        "parent": base.name.display if base else "",
        "adapters": {**start.adapters, **body.string_map("adapters")},
        "files": {**start.files, **body.string_map("files")},
        "parameters": {**start.parameters, **body.dict("parameters")},
    }
    for field, value in (("template", body.data.get("template")), ("system", body.data.get("system"))):
        if isinstance(value, str):
            changes[field] = value
    if _license(body) is not None:
        changes["license"] = _license(body)
    if body.str("quantize"):
        changes["quantization"] = body.str("quantize").upper()
    return dataclasses.replace(start, **changes)


async def create(request: Request, record: RequestRecord, state: SimState) -> Response:
    body = await read_body(request, "CreateRequest")
    raw = record.model = body.model()
    name = parse_or_400(raw)
    base_raw = body.str("from")
    if not base_raw and not body.string_map("files"):
        raise ApiError(400, "neither 'from' or 'files' was specified")
    base = resolve(state, base_raw, "create") if base_raw else None
    entry = _created_entry(name, base, body)
    kind = state.take_failure("create")
    if kind and kind != "midstream":
        return failure_response(kind, "create", raw)
    statuses = _create_statuses(state, entry, base, body)
    return WorkResponse(_paced(state, statuses, body.bool("stream", True), midstream=kind == "midstream"))


# --- blobs (uploaded before /api/create references them) -------------------------------------


def _blob_digest(request: Request) -> str:
    """The digest as given (Ollama compares it verbatim), once its form is checked."""
    digest = request.path_params["digest"]
    if _DIGEST.fullmatch(digest) is None:
        raise ApiError(400, "invalid digest format")
    return digest


async def blob(request: Request, _record: RequestRecord, state: SimState) -> Response:
    """HEAD: 200 if the blob is here, else 404. POST: 200 if it is here already, else store it
    (201) if its sha256 is the digest, exactly as written (`sha256:` and lower-case hex)."""
    digest = _blob_digest(request)
    stored_as = digest.replace(":", "-")  # Ollama's file name, so both spellings find one blob
    if request.method == "HEAD":
        if stored_as in state.blobs:
            return Response(status_code=200)
        raise ApiError(404, f"blob {go_quote(digest)} not found")
    if stored_as in state.blobs:
        return Response(status_code=200)
    content = await request.body()
    actual = f"sha256:{hashlib.sha256(content).hexdigest()}"
    if actual != digest:
        raise ApiError(400, f"digest mismatch, expected {go_quote(digest)}, got {go_quote(actual)}")
    state.blobs[stored_as] = len(content)  # only the size: the simulator never reads the bytes back
    return Response(status_code=201)
