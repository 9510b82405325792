"""Run a training command as a child process group: progress from its output, stopped as a group.

The command runs in a session of its own, so a cancel reaches everything it started (a launcher and
its workers): SIGTERM to the group, SIGKILL once `kill_grace` has passed with anything still alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PERCENT_LINE = re.compile(r"progress\s*[:=]\s*(\d+(?:\.\d+)?)\s*%", re.IGNORECASE)
TAIL_LINES = 40

OnLine = Callable[[str, float | None, str | None], None]  # line, percent, message


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    tail: list[str]


def parse_progress(line: str) -> tuple[float | None, str | None]:
    """`{"progress": 42, "message": "…"}` or `… progress: 42% …`: the percent and message, if any."""
    if line.startswith("{"):
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(line)
            if isinstance(value, dict) and isinstance(value.get("progress"), int | float):
                message = value.get("message")
                return float(value["progress"]), str(message) if message is not None else None
    match = PERCENT_LINE.search(line)
    return (float(match.group(1)), None) if match else (None, None)


async def run_command(
    argv: list[str], *, cwd: Path, env: dict[str, str], on_line: OnLine, kill_grace: float
) -> CommandResult:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stopping it stops its children too
    )
    log.info("training command started (pid %d): %s", process.pid, " ".join(argv))
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            tail.append(line)
            percent, message = parse_progress(line)
            on_line(line, percent, message)
        returncode = await process.wait()
    finally:
        await stop_group(process.pid, kill_grace)  # cancelled, timed out, or stragglers left behind
    return CommandResult(returncode=returncode, tail=list(tail))


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


async def stop_group(pgid: int, kill_grace: float) -> None:
    """SIGTERM the group; SIGKILL whatever is left after `kill_grace` seconds."""
    if not _group_alive(pgid):
        return
    log.info("stopping training process group %d (SIGTERM, then SIGKILL after %.0fs)", pgid, kill_grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + kill_grace
    # No event says "every process of the group exited" (the leader's exit is not enough): poll.
    while _group_alive(pgid) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
