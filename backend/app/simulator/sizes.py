"""Memory sizes: read from the command line and /_sim/config (`8GiB`, `512MB`, `1073741824`), and
written the way Ollama's `format.HumanBytes2` writes them in its out-of-memory error (`40.0 GiB`)."""

from __future__ import annotations

import re

_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")


def parse_bytes(value: object) -> int:
    """Bytes in a whole number, or in a text with an optional unit (B, KB, MB, GB, TB, KiB, MiB,
    GiB, TiB; case ignored). Raises ValueError for anything else or a size below one byte."""
    if isinstance(value, bool):
        raise ValueError(f"a size must be a number of bytes or a text like '8GiB', got {value!r}")
    if isinstance(value, int | float):
        number, unit = float(value), "b"
    elif isinstance(value, str) and (match := _SIZE.fullmatch(value)):
        number, unit = float(match.group(1)), (match.group(2) or "b").lower()
    else:
        raise ValueError(f"a size must be a number of bytes or a text like '8GiB', got {value!r}")
    if unit not in _UNITS:
        raise ValueError(f"unknown size unit {unit!r} in {value!r}; known: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB")
    size = int(number * _UNITS[unit])
    if size < 1:
        raise ValueError(f"a size must be at least one byte, got {value!r}")
    return size


def human_bytes2(size: int) -> str:
    """Go's `format.HumanBytes2`: binary units with one decimal (`12.0 GiB`), plain bytes below 1 KiB."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"
