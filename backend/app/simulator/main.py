"""Command line: `python -m app.simulator` or `aijobs simulate-ollama`."""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Callable

from app.simulator.names import parse_name
from app.simulator.sizes import parse_bytes

DESCRIPTION = """\
A stand-in for Ollama's HTTP API, for development and tests where Ollama cannot run. It answers
generate, chat (with thinking, tool calls and images), embed, tags, ps, show, pull, push, create,
copy and delete like Ollama does (NDJSON streams, errors, keep_alive loading), with deterministic
text instead of a model. It can play a GPU host with limited memory (--vram): models load on first
use, idle ones are evicted to make room, and one larger than the GPU fails with Ollama's 500.
Several processes are several hosts. Tests steer it through /_sim/: POST /_sim/fail injects
failures, POST /_sim/config changes the settings below, POST /_sim/hold pauses generations after
N tokens and POST /_sim/release lets them go on, GET /_sim/stats reports requests, concurrency,
loads, evictions, busy time and held requests, POST /_sim/reset clears them."""

EPILOG = """\
--load-delay and --load-ms are one setting in two units (seconds, milliseconds): give either, not
both. A model named by --model-load-ms loads in its own time instead. Sizes take a whole number of
bytes or a unit: B, KB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB (powers of 1024).
--model-size replaces the memory a model takes when loaded (by default: its weights plus a KV cache
that grows with num_ctx). Model names are matched as Ollama matches them (tinyllama is
tinyllama:latest, case ignored)."""


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _bytes(text: str) -> int:
    try:
        return parse_bytes(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _model_value(parse: Callable[[str], float | int]) -> Callable[[str], tuple[str, float | int]]:
    """NAME=VALUE, with a valid model name and a value `parse` accepts."""

    def model_value(text: str) -> tuple[str, float | int]:
        name, separator, value = text.partition("=")
        if not separator or parse_name(name) is None:
            raise argparse.ArgumentTypeError(f"expected MODEL=VALUE with a valid model name, got {text!r}")
        return name, parse(value)

    return model_value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=11434, help="port to listen on (0: any free port)")
    parser.add_argument("--token-delay", type=_seconds, default=0.02, help="seconds between streamed tokens")
    parser.add_argument("--tokens", type=_count, default=20, help="tokens in a reply (num_predict can cut it)")
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--load-delay", type=_seconds, default=0.0, help="seconds a cold model load takes")
    load.add_argument("--load-ms", type=_seconds, help="the same as --load-delay, in milliseconds")
    parser.add_argument(
        "--vram", type=_bytes, help="GPU memory of this host (e.g. 8GiB or 8589934592); unlimited if left out"
    )
    parser.add_argument(
        "--model-size",
        type=_model_value(_bytes),
        action="append",
        default=[],
        metavar="MODEL=SIZE",
        help="memory MODEL takes when loaded (e.g. tinyllama=2GiB); repeat for more models",
    )
    parser.add_argument(
        "--model-load-ms",
        type=_model_value(_seconds),
        action="append",
        default=[],
        metavar="MODEL=MS",
        help="milliseconds a load of MODEL takes (e.g. tinyllama=300); repeat for more models",
    )
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
        load_delay=args.load_delay if args.load_ms is None else args.load_ms / 1000,
        pull_chunk_delay=args.pull_chunk_delay,
        vram=args.vram,
        model_sizes=dict(args.model_size),
        model_load_ms=dict(args.model_load_ms),
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
