"""Run the Ollama simulator as a subprocess for tests and benchmarks, and steer it over /_sim/.

    sim = start_simulator(token_delay=0.005, tokens=8)
    try:
        ...  # point the code under test at sim.base_url
        sim.fail("busy", 2, endpoints=["generate"])
        assert sim.stats()["max_in_flight"] == 1
    finally:
        sim.stop()

It is also a context manager (`with start_simulator() as sim:`). To act while a job is known to be
running, hold it instead of racing it:

    sim.hold(after_tokens=1)          # matching generations stop after one token and wait
    ...                               # submit the job
    sim.wait_held(1)                  # it is running, and stays so
    ...                               # act (cancel it, look at the queue, …)
    sim.release()                     # let it finish

A GPU host with limited memory: `start_simulator(vram="8GiB", model_sizes={"tinyllama": "2GiB"})`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

_LISTENING = re.compile(r"Ollama simulator listening on (http://\S+)\r?\n")  # the whole line, not a partial write


class Simulator:
    """A running simulator process: its URL, its output, and the /_sim/ control calls."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, base_url: str) -> None:
        self.process = process
        self.log_path = log_path
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, timeout=10)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"simulator {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def stats(self) -> dict[str, Any]:
        """requests (per endpoint), total_requests, in_flight, max_in_flight, disconnects, completed,
        errors, loads, model_loads, evictions, load_seconds, generate_seconds, busy_seconds, held,
        holds, vram_used, log, pending_failures, config."""
        return self._call("GET", "/_sim/stats")

    def fail(self, kind: str, count: int = 1, endpoints: Sequence[str] | None = None) -> dict[str, Any]:
        """Make the next `count` matching requests fail: busy, error500, drop, midstream,
        not_found, bad_request, or invalid_json (a `format` answer cut in half; generate and chat only).
        Endpoints default to generate, chat, embed and embeddings."""
        body: dict[str, Any] = {"kind": kind, "count": count}
        if endpoints is not None:
            body["endpoints"] = list(endpoints)
        return self._call("POST", "/_sim/fail", body)

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change token_delay, tokens, load_delay (or load_ms), pull_chunk_delay, vram (bytes, "8GiB"
        or None for unlimited), model_sizes ({model: size}) or model_load_ms ({model: ms}) now;
        returns the new settings."""
        return self._call("POST", "/_sim/config", settings)

    def hold(
        self, endpoints: Sequence[str] | None = None, after_tokens: int = 1, count: int | None = None
    ) -> dict[str, Any]:
        """Make matching generations (generate and chat by default, streamed or not) stop once they
        have produced `after_tokens` tokens and wait for `release()`; only the next `count` of them
        if given, else every one until released. Returns {"held", "holds"}."""
        body: dict[str, Any] = {"after_tokens": after_tokens, "count": count}
        if endpoints is not None:
            body["endpoints"] = list(endpoints)
        return self._call("POST", "/_sim/hold", body)

    def release(self) -> int:
        """Let every held generation go on and drop every hold; how many were held."""
        return self._call("POST", "/_sim/release")["released"]

    def wait_held(self, count: int = 1, timeout: float = 10.0) -> dict[str, Any]:
        """Poll the stats until at least `count` requests are held; the stats then. TimeoutError
        (with the stats) if that does not happen within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if stats["held"] >= count:
                return stats
            if time.monotonic() > deadline:
                stats.pop("log", None)
                raise TimeoutError(f"{count} held request(s) expected within {timeout}s: {stats}")
            time.sleep(0.01)  # polling the simulator for a state, bounded by the deadline

    def reset(self) -> None:
        """Zero the counters, clear the log and pending failures, restore the start settings, unload
        every model (installed models stay)."""
        self._call("POST", "/_sim/reset")

    def stop(self, timeout: float = 10.0) -> int:
        """Stop the process (SIGTERM, then SIGKILL) and clean up; returns its exit code."""
        self._http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log_path.unlink(missing_ok=True)
        return self.process.returncode

    def __enter__(self) -> Simulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _arguments(settings: dict[str, float | int | str | None]) -> list[str]:
    args: list[str] = []
    for name, value in settings.items():
        if value is not None:
            args += [f"--{name.replace('_', '-')}", str(value)]
    return args


def _per_model(flag: str, values: dict[str, Any] | None) -> list[str]:
    args: list[str] = []
    for model, value in (values or {}).items():
        args += [flag, f"{model}={value}"]
    return args


def start_simulator(
    *,
    token_delay: float | None = None,
    tokens: int | None = None,
    load_delay: float | None = None,
    load_ms: float | None = None,
    pull_chunk_delay: float | None = None,
    vram: int | str | None = None,
    model_sizes: dict[str, int | str] | None = None,
    model_load_ms: dict[str, float] | None = None,
    host: str = "127.0.0.1",
    timeout: float = 30.0,
) -> Simulator:
    """Start `python -m app.simulator` on a free loopback port and wait until it listens.

    `vram` (bytes or "8GiB"; default unlimited), `model_sizes` and `model_load_ms` make it a GPU host
    with limited memory; `load_ms` is `load_delay` in milliseconds (give one of them).

    The simulator binds port 0 itself and prints the port it got, so there is no window in which
    another process could take a port chosen here. Raises RuntimeError with the process output if
    it exits first, TimeoutError if it is not listening within `timeout` seconds.
    """
    settings: dict[str, float | int | str | None] = {"token_delay": token_delay, "tokens": tokens}
    settings.update(load_delay=load_delay, load_ms=load_ms, pull_chunk_delay=pull_chunk_delay, vram=vram)
    fd, name = tempfile.mkstemp(prefix="aijobs-simulator-", suffix=".log")
    os.close(fd)
    log_path = Path(name)
    command = [sys.executable, "-m", "app.simulator", "--host", host, "--port", "0", *_arguments(settings)]
    command += _per_model("--model-size", model_sizes) + _per_model("--model-load-ms", model_load_ms)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = _wait_for_listening(process, log_path, timeout)
    return Simulator(process, log_path, base_url)


def _wait_for_listening(process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        output = log_path.read_text(errors="replace")
        found = _LISTENING.search(output)
        if found:
            return found.group(1)
        if process.poll() is not None:
            log_path.unlink(missing_ok=True)
            raise RuntimeError(f"simulator exited ({process.returncode}) before listening:\n{output}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait(5)
            log_path.unlink(missing_ok=True)
            raise TimeoutError(f"simulator not listening after {timeout}s:\n{output}")
        time.sleep(0.02)  # polling a file for a line; a deadline, not a guess
