"""Background asyncio tasks that are kept, watched, restarted when they crash, and reported."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

# Failures a background loop meets when PostgreSQL restarts or the network blinks: not bugs.
OUTAGES = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


class TaskGroup:
    """Owns named long-running loops. A loop that raises is logged, recorded, and started again."""

    def __init__(self, restart_delay: float = 1.0) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._errors: dict[str, str] = {}
        self._restart_delay = restart_delay

    def spawn(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        self._tasks[name] = asyncio.create_task(self._supervise(name, loop), name=name)

    async def _supervise(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except OUTAGES as error:  # the database or a host is away: expected, and said in one line
                self._errors[name] = f"{type(error).__name__}: {error}"
                log.warning("background task %s stopped (%s); restarting in %.1fs", name, error, self._restart_delay)
                await asyncio.sleep(self._restart_delay)
            except Exception as error:
                self._errors[name] = f"{type(error).__name__}: {error}"
                log.exception("background task %s crashed; restarting in %.1fs", name, self._restart_delay)
                await asyncio.sleep(self._restart_delay)

    def health(self) -> dict[str, Any]:
        return {
            name: {"alive": not task.done(), "last_error": self._errors.get(name)} for name, task in self._tasks.items()
        }

    async def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
