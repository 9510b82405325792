"""Pausing generations for deterministic tests (POST /_sim/hold and /_sim/release).

A hold makes matching generate/chat requests (streamed or not) stop once they have produced
`after_tokens` tokens and wait until released, so a test can act while a job is known to be
running instead of racing a short one. A held request is still in flight, and a client that leaves
while held is noticed at once (its wait is cancelled with the rest of its work).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from app.simulator.stats import RequestRecord

HOLD_ENDPOINTS = ("generate", "chat")


@dataclass
class Hold:
    """One rule: which endpoints, after how many tokens, and how many requests it may still catch
    (None: every matching request until released)."""

    endpoints: tuple[str, ...]
    after_tokens: int
    remaining: int | None

    def catches(self, endpoint: str, tokens: int) -> bool:
        return endpoint in self.endpoints and tokens == self.after_tokens

    def as_dict(self) -> dict[str, Any]:
        return {"endpoints": list(self.endpoints), "after_tokens": self.after_tokens, "remaining": self.remaining}


def parse_hold(data: dict[str, Any]) -> Hold:
    """A hold from POST /_sim/hold's body; ValueError if a field is wrong."""
    unknown = sorted(set(data) - {"endpoints", "after_tokens", "count"})
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; known: ['after_tokens', 'count', 'endpoints']")
    endpoints = data.get("endpoints") or list(HOLD_ENDPOINTS)
    if not isinstance(endpoints, list) or not set(endpoints) <= set(HOLD_ENDPOINTS):
        raise ValueError(f"endpoints must be a list drawn from {list(HOLD_ENDPOINTS)}, got {endpoints!r}")
    after = data.get("after_tokens", 1)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ValueError(f"after_tokens must be a whole number >= 0, got {after!r}")
    count = data.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"count must be a whole number >= 1 or null, got {count!r}")
    return Hold(tuple(endpoints), after, count)


class Holds:
    """The pending rules and the requests waiting at them."""

    def __init__(self) -> None:
        self.rules: list[Hold] = []
        self.waiting: set[RequestRecord] = set()
        self._gate = asyncio.Event()

    def add(self, hold: Hold) -> None:
        self.rules.append(hold)

    async def checkpoint(self, record: RequestRecord, tokens: int) -> None:
        """Called by a generation each time it has produced `tokens` tokens (0 before the first):
        waits here if a rule catches it, until release (or until the client leaves)."""
        rule = next((hold for hold in self.rules if hold.catches(record.endpoint, tokens)), None)
        if rule is None:
            return
        if rule.remaining is not None:
            rule.remaining -= 1
            if rule.remaining == 0:  # used up: no longer pending
                self.rules.remove(rule)
        gate = self._gate
        self.waiting.add(record)
        record.held = True
        try:
            await gate.wait()
        finally:
            record.held = False
            self.waiting.discard(record)

    def release(self) -> int:
        """Let every waiting request go on and drop every rule; how many were waiting."""
        released = len(self.waiting)
        for record in self.waiting:
            record.held = False
        self.waiting.clear()
        self.rules.clear()
        self._gate.set()
        self._gate = asyncio.Event()
        return released

    def as_dict(self) -> dict[str, Any]:
        return {"held": len(self.waiting), "holds": [hold.as_dict() for hold in self.rules]}
