"""The text endpoints: /api/generate and /api/chat, with thinking, tool calls and images."""

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
from app.simulator.bodies import Body, int_option, read_body
from app.simulator.gpu import Job, load_events, refused, timings
from app.simulator.lookup import MIDSTREAM, failure_response, require, resolve
from app.simulator.media import IMAGE_TOKENS, decode_images, image_marks
from app.simulator.models import COMPLETION, THINKING, TOOLS, VISION, ModelEntry
from app.simulator.names import go_quote
from app.simulator.plans import Plan, cut_plan, make_plan, tool_call_plan, with_thinking
from app.simulator.residency import LoadRefused
from app.simulator.responses import ApiError, Event, Line, Whole, WorkResponse, json_response
from app.simulator.state import SimState
from app.simulator.stats import RequestRecord
from app.simulator.timefmt import rfc3339

__all__ = ["chat", "generate", "make_plan"]

MIDSTREAM_AFTER = 2  # tokens sent before an injected mid-stream error
THINK_LEVELS = ("high", "medium", "low")
_THINK_CHOICES = '("high", "medium", "low", true, or false)'


@dataclass
class Shape:
    """What generate's and chat's chunks look like; they differ only in where the text goes."""

    model: str
    chat: bool

    def _head(self) -> dict[str, Any]:
        return {"model": self.model, "created_at": rfc3339()}

    def _text(self, piece: str, thinking: str = "", tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The answer's fields; `thinking` and `tool_calls` are left out when empty, as Ollama does."""
        body: dict[str, Any] = {"role": "assistant", "content": piece} if self.chat else {"response": piece}
        if thinking:
            body["thinking"] = thinking
        if tool_calls:
            body["tool_calls"] = tool_calls
        return {"message": body} if self.chat else body

    def chunk(self, piece: str) -> dict[str, Any]:
        return {**self._head(), **self._text(piece), "done": False}

    def step_chunk(self, kind: str, value: Any) -> dict[str, Any]:
        """A streamed chunk for one step: reasoning or answer text in its own field, or whole tool calls."""
        if kind == "thinking":
            return {**self._head(), **self._text("", thinking=value), "done": False}
        if kind == "tool_calls":
            return {**self._head(), **self._text("", tool_calls=value), "done": False}
        return self.chunk(value)

    def final(
        self,
        piece: str,
        reason: str,
        context: list[int],
        durations: dict[str, int],
        thinking: str = "",
        tool_calls: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        extra = {} if self.chat else {"context": context}
        answer = self._text(piece, thinking, tool_calls)
        return {**self._head(), **answer, "done": True, "done_reason": reason, **extra, **durations}


@dataclass
class Produced:
    """What a generation has sent so far, by kind."""

    tokens: int = 0
    content: str = ""
    thinking: str = ""
    tool_calls: list[dict[str, Any]] | None = None

    def add(self, kind: str, value: Any) -> None:
        self.tokens += 1
        if kind == "content":
            self.content += value
        elif kind == "thinking":
            self.thinking += value
        elif kind == "tool_calls":
            self.tool_calls = value


async def _generate_events(job: Job, shape: Shape, plan: Plan, midstream: bool) -> AsyncIterator[Event]:
    try:
        load_ns = await job.acquire()
    except LoadRefused as error:
        yield refused(error)
        return
    try:
        # No prompt evaluation is simulated; its measured duration is tiny but, as Ollama's, not zero.
        prompt_started = time.perf_counter_ns()
        eval_started = time.perf_counter_ns()
        produced = Produced()
        for kind, value in plan.steps():
            if midstream and produced.tokens == MIDSTREAM_AFTER:
                break
            await job.checkpoint(produced.tokens)
            await asyncio.sleep(job.state.config.token_delay)
            produced.add(kind, value)
            job.record.tokens += 1
            if job.stream and kind != "tool":  # a tool call is sent whole, with its last token
                yield Line(shape.step_chunk(kind, value))
        if not midstream:
            await job.checkpoint(produced.tokens)  # a hold after the last token stops before the done chunk
        job.release()
        if midstream:
            yield Line({"error": MIDSTREAM}, last=True) if job.stream else Whole({"error": MIDSTREAM}, 500)
            return
        finished = time.perf_counter_ns()
        durations = timings(
            total_duration=finished - job.record.start_ns,
            load_duration=load_ns,
            prompt_eval_count=plan.prompt_tokens,
            prompt_eval_duration=max(eval_started - prompt_started, 1),
            eval_count=produced.tokens,
            eval_duration=max(finished - eval_started, 1) if produced.tokens else 0,
        )
        context = plan.prompt_ids + text.token_ids(produced.content)
        if job.stream:  # everything was sent already: the done chunk carries no text
            yield Line(shape.final("", plan.done_reason, context, durations), last=True)
        else:
            final = shape.final(
                produced.content, plan.done_reason, context, durations, produced.thinking, produced.tool_calls
            )
            yield Whole(final)
    finally:
        job.release()


def _load_or_unload(job: Job, shape: Shape, failure: str | None, endpoint: str) -> Response:
    """An empty prompt: unload with keep_alive 0, else load; one JSON object either way."""
    head = shape.final("", "load", [], {})
    head.pop("context", None)
    if job.keep_alive == 0:
        job.state.residency.unload(job.entry)
        return json_response({**head, "done_reason": "unload"})
    if failure:
        return failure_response(failure, endpoint, job.raw_model)
    return WorkResponse(load_events(job, head))


# --- what the request asks for ---------------------------------------------------------------


def parse_think(body: Body) -> bool | str | None:
    """`think` as Ollama's api.ThinkValue decodes it: a bool or a level, else a 400."""
    value = body.data.get("think")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value not in THINK_LEVELS:
            raise ApiError(400, f"invalid think value: {go_quote(value)} (must be {_THINK_CHOICES[1:-1]})")
        return value
    raise ApiError(400, f"think must be a boolean or string {_THINK_CHOICES}")


def _thinks(entry: ModelEntry, think: bool | str | None, raw: str) -> bool:
    """Whether the model reasons first. As in Ollama 0.12: a thinking model does unless told
    `think: false`; any other model refuses `think` (a level counts as true)."""
    if not entry.has(THINKING):
        if think:
            raise ApiError(400, f"{go_quote(raw)} does not support thinking")
        return False
    return think is not False


def _check_tools(entry: ModelEntry, tools: list[Any], raw: str) -> None:
    if tools and not entry.has(TOOLS):
        raise ApiError(400, f"{go_quote(raw)} does not support tools")


def _check_think_level(entry: ModelEntry, think: bool | str | None) -> None:
    if isinstance(think, str) and not entry.spec.think_levels:
        raise ApiError(400, f"think value {go_quote(think)} is not supported for this model")


def _tools(body: Body) -> list[Any]:
    tools = body.list("tools") or []
    for tool in tools:
        if not isinstance(tool, dict):
            kind = "string" if isinstance(tool, str) else "value"
            where = "Go struct field ChatRequest.tools of type api.Tool"
            raise ApiError(400, f"json: cannot unmarshal {kind} into {where}")
    return tools


def _job(state: SimState, record: RequestRecord, entry: ModelEntry, raw: str, body: Body) -> Job:
    options = body.dict("options")
    return Job(state, record, entry, raw, body.keep_alive(), int_option(options, "num_ctx"), body.bool("stream", True))


@dataclass
class Turn:
    """What the model is asked, reduced to what decides its answer."""

    seed_text: str  # the text the answer is drawn from
    prompt_tokens: int
    empty: bool  # nothing to generate: a load (or, with keep_alive 0, an unload)
    think: bool | str | None = None
    tools: list[Any] = dataclasses.field(default_factory=list)
    tool_result: str | None = None  # the last message is a tool's result: answer with it
    call_tool: bool = False  # the last message is the user's: with tools given, the answer is a call


def _plan(state: SimState, job: Job, body: Body, turn: Turn) -> Plan:
    options, count = body.dict("options"), state.config.tokens
    if turn.call_tool and turn.tools:
        plan = tool_call_plan(turn.tools[0], turn.seed_text, options, count, turn.prompt_tokens)
    elif turn.tool_result is not None:
        reply = text.tool_result_reply(turn.tool_result, count, int_option(options, "seed"))
        plan = cut_plan(reply, options, turn.seed_text, turn.prompt_tokens)
    else:
        plan = make_plan(turn.seed_text, body.format(), options, count, turn.prompt_tokens)
    if _thinks(job.entry, turn.think, job.raw_model):
        plan = with_thinking(plan, turn.seed_text, options, count)
    return plan


def _reply(state: SimState, job: Job, shape: Shape, body: Body, endpoint: str, turn: Turn) -> Response:
    """Shared tail of generate and chat, once the model is known: unload, load, or generate."""
    if turn.empty and job.keep_alive == 0:
        return _load_or_unload(job, shape, None, endpoint)  # no scheduler involved: never fails
    _thinks(job.entry, turn.think, job.raw_model)  # refused before anything else, as Ollama does
    require(job.entry, COMPLETION, job.raw_model, endpoint)
    _check_tools(job.entry, turn.tools, job.raw_model)
    _check_think_level(job.entry, turn.think)
    # Bad options are a 400 before an injected failure is used up.
    plan = None if turn.empty else _plan(state, job, body, turn)
    failure = state.take_failure(endpoint)
    if plan is None:
        return _load_or_unload(job, shape, failure, endpoint)
    if failure == "invalid_json":  # the answer is cut short, as when num_predict ends it mid-object
        plan = dataclasses.replace(plan, tokens=plan.tokens[: max(1, len(plan.tokens) // 2)], done_reason="length")
        failure = None
    if failure and failure != "midstream":
        return failure_response(failure, endpoint, job.raw_model)
    return WorkResponse(_generate_events(job, shape, plan, midstream=failure == "midstream"))


def _seen(entry: ModelEntry, seed_text: str, prompt_tokens: int, images: list[bytes]) -> tuple[str, int]:
    """A vision model's answer depends on the images and they cost prompt tokens. Any other model
    ignores them, as Ollama 0.12's runners do for a model without a vision encoder."""
    if not images or not entry.has(VISION):
        return seed_text, prompt_tokens
    return seed_text + image_marks(images), prompt_tokens + IMAGE_TOKENS * len(images)


# --- the endpoints ---------------------------------------------------------------------------


async def generate(request: Request, record: RequestRecord, state: SimState) -> Response:
    body = await read_body(request, "GenerateRequest", empty_ok=True)
    raw, prompt, system = body.str("model"), body.str("prompt"), body.str("system")
    images = decode_images(body.data.get("images"), "GenerateRequest.images")  # decoded with the body
    think = parse_think(body)
    record.model, record.prompt = raw, prompt or None
    body.format()  # a bad format is a 400 before anything else happens
    job = _job(state, record, resolve(state, raw, "generate"), raw, body)
    context = body.list("context") or []
    seed_text, prompt_tokens = _seen(job.entry, prompt, text.count_tokens(f"{system}\n{prompt}") + len(context), images)
    turn = Turn(seed_text, prompt_tokens, empty=not prompt, think=think)
    return _reply(state, job, Shape(raw, chat=False), body, "generate", turn)


_MESSAGE_ERROR = "json: cannot unmarshal into Go struct field ChatRequest.messages of type api.Message"


def _check_tool_calls(value: Any) -> None:
    """An assistant message's earlier calls: each `{"function": {"name", "arguments": {…}}}`."""
    if value is None:
        return
    calls_ok = isinstance(value, list) and all(
        isinstance(call, dict) and isinstance(call.get("function", {}), dict) for call in value
    )
    if not calls_ok:
        raise ApiError(400, _MESSAGE_ERROR)
    for call in value:
        arguments = call.get("function", {}).get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise ApiError(
                400,
                "json: cannot unmarshal string into Go struct field ToolCallFunction.messages.tool_calls.function"
                ".arguments of type api.ToolCallFunctionArguments",
            )


def _messages(body: Body) -> list[dict[str, Any]]:
    messages = body.list("messages") or []
    for message in messages:
        ok = isinstance(message, dict) and isinstance(message.get("role", ""), str)
        if not ok or not isinstance(message.get("content") or "", str):
            raise ApiError(400, _MESSAGE_ERROR)
        if not isinstance(message.get("tool_name") or "", str):
            raise ApiError(400, _MESSAGE_ERROR)
        _check_tool_calls(message.get("tool_calls"))
        message["images"] = decode_images(message.get("images"), "ChatRequest.messages.images")
    return messages


def _chat_seed(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The last user message drives the reply (the last message of any role if none is a user's)."""
    users = [message for message in messages if str(message.get("role", "")).lower() == "user"]
    return (users or messages or [{}])[-1]


def _chat_turn(entry: ModelEntry, body: Body, messages: list[dict[str, Any]], think: bool | str | None) -> Turn:
    seed = _chat_seed(messages)
    prompt_tokens = sum(text.count_tokens(str(message.get("content") or "")) + 4 for message in messages)
    seed_text, prompt_tokens = _seen(entry, str(seed.get("content") or ""), prompt_tokens, seed.get("images") or [])
    last_role = str(messages[-1].get("role", "")).lower() if messages else ""
    turn = Turn(seed_text, prompt_tokens, empty=not messages, think=think, tools=_tools(body))
    turn.call_tool = last_role == "user"
    if last_role == "tool":
        turn.tool_result = str(messages[-1].get("content") or "")
    return turn


async def chat(request: Request, record: RequestRecord, state: SimState) -> Response:
    body = await read_body(request, "ChatRequest")
    raw = body.str("model")
    messages = _messages(body)
    think = parse_think(body)
    record.model = raw
    record.prompt = str(_chat_seed(messages).get("content") or "") if messages else None
    body.format()
    job = _job(state, record, resolve(state, raw, "chat"), raw, body)
    return _reply(state, job, Shape(raw, chat=True), body, "chat", _chat_turn(job.entry, body, messages, think))
