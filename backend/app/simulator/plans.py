"""What a generation will produce, decided before it starts: reasoning (when thinking), the answer's
tokens or a tool call, and why it ends. Generation then only paces it out (generation.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from app.simulator import text
from app.simulator.bodies import int_option, stop_option

# One step of generation: ("thinking", piece), ("content", piece), ("tool", None) for a token of a
# tool call still being written (nothing is sent: Ollama's parser holds it back), and
# ("tool_calls", calls) for the token that completes the call, which is then sent whole.
Step = tuple[str, Any]


@dataclass
class Plan:
    """The reply decided up front: its tokens and why it ends."""

    tokens: list[str]
    done_reason: str
    prompt_tokens: int
    prompt_ids: list[int]
    thinking: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_tokens: int = 0  # tokens the model spends writing its tool calls

    def steps(self) -> Iterator[Step]:
        for piece in self.thinking:
            yield "thinking", piece
        for piece in self.tokens:
            yield "content", piece
        if self.tool_calls:
            for _ in range(self.tool_tokens - 1):
                yield "tool", None
            yield "tool_calls", self.tool_calls


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


def cut_plan(tokens: list[str], options: dict[str, Any], seed_text: str, prompt_tokens: int) -> Plan:
    """Tokens cut by a stop sequence (reason `stop`), then by `num_predict` (reason `length`)."""
    tokens, _ = _cut_at_stop(tokens, stop_option(options))
    limit = int_option(options, "num_predict")
    if limit is not None and 0 < limit < len(tokens):
        return Plan(tokens[:limit], "length", prompt_tokens, text.token_ids(seed_text))
    return Plan(tokens, "stop", prompt_tokens, text.token_ids(seed_text))


def make_plan(seed_text: str, fmt: Any, options: dict[str, Any], count: int, prompt_tokens: int) -> Plan:
    return cut_plan(plan_reply(seed_text, fmt, options, count), options, seed_text, prompt_tokens)


def tool_call_plan(tool: Any, seed_text: str, options: dict[str, Any], count: int, prompt_tokens: int) -> Plan:
    """A call of `tool` (an OpenAI-style function spec) with its required arguments filled in,
    shaped as Ollama 0.12 sends it: `{"function": {"index", "name", "arguments": {…}}}`."""
    function = tool.get("function") if isinstance(tool, dict) else None
    function = function if isinstance(function, dict) else {}
    name = function.get("name") if isinstance(function.get("name"), str) else ""
    arguments = text.tool_arguments(function.get("parameters"), seed_text, int_option(options, "seed"))
    call = {"function": {"index": 0, "name": name, "arguments": arguments}}
    written = text.count_tokens(json.dumps(call["function"]))
    plan = Plan([], "stop", prompt_tokens, text.token_ids(seed_text), tool_calls=[call])
    plan.tool_tokens = max(1, min(written, count))
    return plan


def with_thinking(plan: Plan, seed_text: str, options: dict[str, Any], count: int) -> Plan:
    """Reasoning first. `num_predict` counts it too, so it can leave no room for the answer."""
    thinking = text.thinking_tokens(seed_text, count, int_option(options, "seed"))
    limit = int_option(options, "num_predict")
    if limit is None or limit <= 0:
        plan.thinking = thinking
        return plan
    plan.thinking = thinking[:limit]
    room = limit - len(plan.thinking)
    if room < len(plan.tokens) or (room == 0 and plan.tool_calls):
        plan.tokens, plan.tool_calls, plan.done_reason = plan.tokens[:room], [], "length"
    return plan
