"""Command line: `python -m app.simulator` or `aijobs simulate-ollama`."""

from __future__ import annotations

import argparse
import socket
import sys

DESCRIPTION = """\
A stand-in for Ollama's HTTP API, for development and tests where Ollama cannot run. It answers
generate, chat, embed, tags, ps, show, pull, create and delete like Ollama does (NDJSON streams,
errors, keep_alive loading), with deterministic text instead of a model. Tests steer it through
/_sim/: POST /_sim/fail injects failures, POST /_sim/config changes the settings below,
GET /_sim/stats reports requests, concurrency and disconnects, POST /_sim/reset clears them."""


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=DESCRIPTION, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=11434, help="port to listen on (0: any free port)")
    parser.add_argument("--token-delay", type=_seconds, default=0.02, help="seconds between streamed tokens")
    parser.add_argument("--tokens", type=_count, default=20, help="tokens in a reply (num_predict can cut it)")
    parser.add_argument("--load-delay", type=_seconds, default=0.0, help="seconds a cold model load takes")
    parser.add_argument(
        "--pull-chunk-delay", type=_seconds, default=0.06, help="seconds between pull/create progress lines"
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (info shows each request)",
    )
    return parser


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _listen(host: str, port: int) -> socket.socket:
    """Bind before announcing, so whoever waits for the line can connect at once (with --port 0,
    the line carries the port the system chose)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from app.simulator.app import create_app
    from app.simulator.state import SimConfig

    # Called with a list by `aijobs simulate-ollama`; without one by `python -m app.simulator`.
    prog = "aijobs simulate-ollama" if argv is not None else "python -m app.simulator"
    args = build_parser(prog=prog).parse_args(argv)
    config = SimConfig(
        token_delay=args.token_delay,
        tokens=args.tokens,
        load_delay=args.load_delay,
        pull_chunk_delay=args.pull_chunk_delay,
    )
    try:
        sock = _listen(args.host, args.port)
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    print(f"Ollama simulator listening on {_url(args.host, sock.getsockname()[1])}", flush=True)
    server_config = uvicorn.Config(
        create_app(config), log_level=args.log_level, lifespan="off", timeout_graceful_shutdown=1
    )
    uvicorn.Server(server_config).run(sockets=[sock])
    return 0
