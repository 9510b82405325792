"""Timestamps the way Ollama writes them: RFC 3339 in UTC with a `Z`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

# Go's time.Duration tops out at about 292 years; Ollama's "forever" expiry is now plus that.
_FOREVER = timedelta(seconds=(2**63 - 1) / 1e9)


def rfc3339(unix_seconds: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if unix_seconds is None else unix_seconds, tz=UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def rfc3339_forever(now: float) -> str:
    return (datetime.fromtimestamp(now, tz=UTC) + _FOREVER).isoformat(timespec="microseconds").replace("+00:00", "Z")
