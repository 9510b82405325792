"""Start aijobs itself as subprocesses (workers, API servers) for acceptance tests, and stop them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """One `aijobs …` subprocess, its output in a file so a failing test can show it."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.log_path = Path(tempfile.mkstemp(prefix="aijobs-", suffix=".log")[1])
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None:
                raise RuntimeError(f"process exited ({self.process.returncode}):\n{self.output()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {text!r} after {timeout}s:\n{self.output()}")
            time.sleep(0.05)

    def kill9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
        return self.process.returncode


def start_worker(env: dict[str, str]) -> ServiceProcess:
    worker = ServiceProcess(["worker"], env)
    worker.wait_for_output("aijobs worker")
    return worker


def start_server(env: dict[str, str], *, processor: bool = True) -> tuple[ServiceProcess, str]:
    port = free_port()
    args = ["serve", "--port", str(port)] + ([] if processor else ["--no-processor"])
    server = ServiceProcess(args, env)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited ({server.process.returncode}):\n{server.output()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return server, base_url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise TimeoutError(f"server did not become healthy:\n{server.output()}")
        time.sleep(0.05)
