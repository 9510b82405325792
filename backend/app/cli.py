"""The `aijobs` command: serve, worker, migrate, simulate-ollama."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import warnings

from app import cli_client, cli_hosts, cli_users
from app.config import ConfigError, Settings, load_settings

DESCRIPTION = """\
aijobs lets many people share one GPU behind Ollama: AI work is submitted over HTTP, queued in
PostgreSQL and run one job per GPU slot, with retries, cancellation and live progress.
Configuration comes from environment variables (see README.md); without DATABASE_URL an embedded
PostgreSQL is started in AIJOBS_DATA_DIR (default ./.aijobs)."""


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it narrates every start at INFO
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per plugin and step at INFO
    # platformdirs (through pgserver) warns when XDG_RUNTIME_DIR is unset, as on servers and in containers.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


class Terminated(SystemExit):
    """The process got SIGTERM (kill, docker stop, systemd, CI) and ends like a normal exit, status 143
    as a shell reports it: an interrupted `aijobs migrate && aijobs serve` must not go on to serve.

    Python's default is to die on the spot, skipping atexit handlers, and pgserver stops the embedded
    PostgreSQL from one: it was left running. uvicorn and the worker handle SIGTERM themselves while
    they run (a graceful stop); this covers the rest: start-up, the other commands, and uvicorn, which
    raises the signal again once it has stopped."""


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a second SIGTERM must not cut the stop (atexit) short
    raise Terminated(128 + signum)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_asgi_app

    if args.host:
        settings.host = args.host
    if args.port is not None:
        settings.port = args.port
    if args.no_processor:
        settings.run_processor = False
    try:
        uvicorn.run(
            create_asgi_app(settings),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            proxy_headers=True,
            forwarded_allow_ips="*",
        )
    except Terminated:  # uvicorn stopped gracefully on SIGTERM, then raised it again: a clean stop
        pass
    return 0


async def _run_worker(settings: Settings, hosts: list[str] | None = None) -> None:
    from app import db, migrate
    from app.main import resolve_database_url
    from app.services.queue.processor import Processor
    from app.services.realtime.events import Events
    from app.services.realtime.pg_manager import PostgresManager

    # SIGINT/SIGTERM from the start: one during start-up lets it finish, then stops, as uvicorn does.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    url = await resolve_database_url(settings)
    await migrate.upgrade_async(url)
    engine = db.create_engine(url)
    pool = await db.create_pool(url, max_size=3)
    # Write-only: the worker has no Socket.IO clients; its events reach them through the API replicas.
    manager = PostgresManager(url, write_only=True)

    async def emit(event: str, data: dict[str, object], rooms: list[str] | None) -> None:
        await manager.emit(event, data, namespace="/", to=rooms)

    events = Events(
        emit, pool, capacity=settings.max_concurrent_jobs, progress_interval=settings.socket_progress_interval
    )
    events.start()
    processor = Processor(settings=settings, engine=engine, database_url=url, events=events, hosts=hosts)
    await processor.start()
    driven = ", ".join(f"{name} ({d.host.slots} slot(s))" for name, d in processor.drivers.items()) or "none"
    print(f"aijobs worker {processor.worker_id} running; GPU host(s): {driven}", flush=True)
    await stop.wait()
    await processor.stop()
    await events.stop()
    await manager.close()
    await pool.close()
    await engine.dispose()


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    hosts = [name.strip() for name in args.hosts.split(",") if name.strip()] if args.hosts else None
    asyncio.run(_run_worker(settings, hosts))
    # Stopped as asked. What is left is atexit stopping the embedded PostgreSQL: a second SIGTERM must
    # not cut it short (closing the event loop put SIGTERM back to its default, dying on the spot).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from app import migrate
    from app.main import resolve_database_url

    url = asyncio.run(resolve_database_url(settings))
    if args.downgrade:
        migrate.downgrade(url, args.downgrade)
    else:
        migrate.upgrade(url)
    print("database schema is up to date" if not args.downgrade else f"downgraded to {args.downgrade}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aijobs", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP API (and, by default, the job processor)")
    serve.add_argument("--host", help="address to bind (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: PORT or 8000)")
    serve.add_argument("--no-processor", action="store_true", help="serve only; run jobs in `aijobs worker`")
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser(
        "worker",
        help="run only the job processor",
        description="Run the job processor alone: it claims jobs for every GPU host in the hosts table (see "
        "`aijobs hosts list`) and streams them to that host's Ollama. Run as many as you like, on any machines: "
        "the slot leases keep each host's cap.",
    )
    worker.add_argument(
        "--hosts",
        metavar="NAME[,NAME…]",
        help="drive only these GPU hosts (e.g. one worker next to each GPU box: --hosts box-a)",
    )
    worker.set_defaults(handler=cmd_worker)

    migrate = commands.add_parser("migrate", help="upgrade the database schema to the newest version")
    migrate.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION instead (e.g. base)")
    migrate.set_defaults(handler=cmd_migrate)

    cli_users.add_parser(commands)
    cli_hosts.add_parser(commands)
    cli_client.add_parsers(commands)

    commands.add_parser(
        "simulate-ollama",
        help="run the Ollama stand-in for development and tests (see `aijobs simulate-ollama --help`)",
        add_help=False,
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "simulate-ollama":
        from app.simulator.main import main as simulator_main

        return simulator_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if hasattr(args, "client_handler"):  # the terminal client needs no server-side settings
        return cli_client.run(args)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"aijobs: {error}", file=sys.stderr)
        return 2
    _configure_logging(settings)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    return int(args.handler(settings, args))


if __name__ == "__main__":
    sys.exit(main())
