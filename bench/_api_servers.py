"""Starting and stopping the servers ``api_ingest`` measures, each a gunicorn master we own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

BARE_APP = Path(__file__).with_name("_api_bare_app.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(process: subprocess.Popen[bytes], url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            requests.get(url, timeout=2)
            return  # any answer, even a 404, means a worker is serving
        except requests.RequestException:
            time.sleep(0.3)
    raise RuntimeError(f"server at {url} not up after {timeout:.0f} s")


@contextmanager
def _gunicorn(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        # Access logs go to the file, as in production they go to a collector.
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            _wait_listening(process, url)
            time.sleep(1.0)  # let the second worker finish booting too
            yield url
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful shutdown), then SIGKILL after 30 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSYK_")}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    env.update(extra)
    return env


@contextmanager
def platform_server(
    settings: dict[str, str], port: int, workers: int, threads: int, log: Path
) -> Iterator[str]:
    """``obsyk serve`` (the production entry point) with ``OBSYK_*`` ``settings``."""
    command = [sys.executable, "-m", "reference_app.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--threads", str(threads)]
    with _gunicorn(command, _env(settings), port, log) as url:
        yield url


@contextmanager
def bare_server(port: int, workers: int, threads: int, log: Path) -> Iterator[str]:
    command = [sys.executable, str(BARE_APP), str(port), str(workers), str(threads)]
    with _gunicorn(command, _env({}), port, log) as url:
        yield url
