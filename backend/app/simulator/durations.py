"""`keep_alive` values as Ollama decodes them (`api.Duration`): seconds or a Go duration string."""

from __future__ import annotations

import json
import math
import re

DEFAULT_KEEP_ALIVE = 300.0  # OLLAMA_KEEP_ALIVE's default, 5 minutes
FOREVER = math.inf

_UNIT_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
_NUMBER = re.compile(r"(\d*)(?:\.(\d*))?")
_UNIT = re.compile(r"[^\d.]*")


class DurationError(ValueError):
    """The message is Go's own, so a client sees the text Ollama would send with its 400."""


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string (`5m`, `1h30m`, `-1m`, `0`), as `time.ParseDuration` reads it."""
    rest, sign = text, 1.0
    if rest[:1] in ("+", "-"):
        sign, rest = (-1.0 if rest[0] == "-" else 1.0), rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise DurationError(f"time: invalid duration {_go_quote(text)}")
    total_ns = 0.0
    while rest:
        number = _NUMBER.match(rest)
        assert number is not None  # the pattern can match the empty string
        whole, fraction = number.group(1), number.group(2)
        if not whole and not fraction:
            raise DurationError(f"time: invalid duration {_go_quote(text)}")
        rest = rest[number.end() :]
        unit = _UNIT.match(rest).group()  # type: ignore[union-attr]
        if not unit:
            raise DurationError(f"time: missing unit in duration {_go_quote(text)}")
        if unit not in _UNIT_NS:
            raise DurationError(f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(text)}")
        total_ns += float(f"{whole or 0}.{fraction or 0}") * _UNIT_NS[unit]
        rest = rest[len(unit) :]
    return sign * total_ns / 1e9


def parse_keep_alive(value: object) -> float | None:
    """Seconds to keep the model loaded (`math.inf` = forever), or None when the request left it out.

    Like Ollama: a number is seconds, a string is a Go duration, anything negative means forever,
    and a unit-less string such as "300" is an error.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DurationError(f"Unsupported type: '{type(value).__name__}'")
    seconds = parse_go_duration(value) if isinstance(value, str) else float(value)
    return FOREVER if seconds < 0 else seconds
