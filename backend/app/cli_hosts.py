"""`aijobs hosts …`: manage the GPU hosts from the shell, on the database directly (as `aijobs users`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from app.config import Settings
from app.errors import AppError

if TYPE_CHECKING:  # the other commands need neither
    import asyncpg

    from app.schemas.hosts import HostView

DESCRIPTION = """\
The GPU hosts jobs run on: each one Ollama server with its own slots. Changes reach running aijobs
processes at once (NOTIFY); a new host takes work once the prober has reached it. The same is possible
over HTTP: /api/ai-agent/hosts (admins)."""
EXAMPLES = """\
examples:
  aijobs hosts add box-a http://10.0.0.1:11434 --slots 2 --memory 24GiB --labels a100,fast
  aijobs hosts list
  aijobs hosts drain box-a     # running jobs finish, nothing new starts there
  aijobs hosts remove box-a    # once nothing runs there"""
MEMORY_HELP = "GPU memory, e.g. 24GiB, 16GB or bytes (for the fit check; unknown: no check)"
LABELS_HELP = "comma-separated labels jobs may require, e.g. a100,fast"


async def _with_pool(settings: Settings, action: Callable[[asyncpg.Pool], Awaitable[int]]) -> int:
    from app import db, migrate
    from app.main import resolve_database_url

    url = await resolve_database_url(settings)
    await migrate.upgrade_async(url)
    pool = await db.create_pool(url, min_size=1, max_size=1)
    try:
        return await action(pool)
    except AppError as error:
        print(f"aijobs: {error.message}", file=sys.stderr)
        return 1
    finally:
        await pool.close()


def _labels(text: str | None) -> list[str] | None:
    return None if text is None else [label.strip() for label in text.split(",") if label.strip()]


def format_size(size: int | None) -> str:
    if size is None:
        return "-"
    for unit, factor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor:
            return f"{size / factor:.3g}{unit}"
    return f"{size}B"


COLUMNS = ("NAME", "STATE", "BUSY", "MEMORY", "LABELS", "LOADED", "VERSION", "URL")


def table(views: list[HostView]) -> str:
    """One line per host: name, state, running jobs / slots, memory, labels, loaded models, version, URL."""
    rows = [COLUMNS] + [
        (
            view.name,
            view.state,
            f"{len(view.running)}/{view.slots}",
            format_size(view.gpu_memory),
            ",".join(view.labels) or "-",
            ",".join(model.name for model in view.loaded) or "-",
            view.version or "?",
            view.base_url or "",
        )
        for view in views
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in rows
    )


def _describe(view: HostView) -> str:
    memory = f", {format_size(view.gpu_memory)}" if view.gpu_memory else ""
    labels = f", labels {','.join(view.labels)}" if view.labels else ""
    return f"{view.name} ({view.base_url}, {view.slots} slot(s){memory}{labels}) is {view.state}"


def cmd_hosts(settings: Settings, args: argparse.Namespace) -> int:
    from app.services.fleet import hosts, views

    async def add(pool: asyncpg.Pool) -> int:
        memory = hosts.gpu_memory(args.memory, "--memory")
        await hosts.add(pool, args.name, args.url, args.slots, memory, _labels(args.labels) or [])
        print(f"Added {_describe(await views.one(pool, args.name))}.")
        return 0

    async def update(pool: asyncpg.Pool) -> int:
        if args.url is None and args.slots is None and args.memory is None and args.labels is None:
            print("aijobs: nothing to change: give any of --url, --slots, --memory, --labels.", file=sys.stderr)
            return 2
        memory = hosts.gpu_memory(args.memory, "--memory") if args.memory is not None else ...
        labels = _labels(args.labels)
        await hosts.update(pool, args.name, base_url=args.url, slots=args.slots, gpu_memory=memory, labels=labels)
        print(f"Updated {_describe(await views.one(pool, args.name))}.")
        return 0

    async def list_all(pool: asyncpg.Pool) -> int:
        found = await views.host_views(pool, show_urls=True)
        if not found:
            print("No hosts yet: `aijobs hosts add NAME URL`, or start aijobs once (it adds OLLAMA_BASE_URL).")
            return 0
        print(table(found))
        return 0

    async def drain(pool: asyncpg.Pool) -> int:
        await hosts.set_draining(pool, args.name, True)
        running = len((await views.one(pool, args.name)).running)
        print(f"{args.name} is draining: nothing new starts there; {running} running job(s) finish.")
        return 0

    async def resume(pool: asyncpg.Pool) -> int:
        await hosts.set_draining(pool, args.name, False)
        print(f"{args.name} takes work again.")
        return 0

    async def remove(pool: asyncpg.Pool) -> int:
        await hosts.remove(pool, args.name)
        print(f"Removed {args.name}.")
        return 0

    actions = {"add": add, "update": update, "list": list_all, "drain": drain, "resume": resume, "remove": remove}
    return asyncio.run(_with_pool(settings, actions[args.hosts_command]))


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "hosts",
        help="manage the GPU hosts (Ollama servers): add, list, drain, resume, update, remove",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="hosts_command", metavar="ACTION", required=True)

    add = sub.add_parser("add", help="add a host", description="Add a GPU host: an Ollama server and its slots.")
    add.add_argument("name", metavar="NAME", help="1-63 lower-case letters, digits, . _ -, e.g. box-a")
    add.add_argument("url", metavar="URL", help="its Ollama's address, e.g. http://10.0.0.1:11434")
    add.add_argument("--slots", type=int, default=1, metavar="N", help="jobs it runs at once, 1-64 (default: 1)")
    add.add_argument("--memory", metavar="SIZE", help=MEMORY_HELP)
    add.add_argument("--labels", metavar="A,B", help=LABELS_HELP)

    sub.add_parser("list", help="every host: state, busy slots, memory, labels, loaded models, version, URL")

    update = sub.add_parser("update", help="change a host's URL, slots, memory or labels (the rest stays)")
    update.add_argument("name", metavar="NAME")
    update.add_argument("--url", metavar="URL", help="its Ollama's new address")
    update.add_argument("--slots", type=int, metavar="N", help="jobs it runs at once, 1-64")
    update.add_argument("--memory", metavar="SIZE", help=MEMORY_HELP)
    update.add_argument("--labels", metavar="A,B", help=f"{LABELS_HELP}; '' removes them all")

    drain = sub.add_parser("drain", help="start nothing new on a host; what runs there finishes")
    drain.add_argument("name", metavar="NAME")
    resume = sub.add_parser("resume", help="a drained host takes work again")
    resume.add_argument("name", metavar="NAME")
    remove = sub.add_parser("remove", help="remove a host nothing runs on (drain it first)")
    remove.add_argument("name", metavar="NAME")
    parser.set_defaults(handler=cmd_hosts)
