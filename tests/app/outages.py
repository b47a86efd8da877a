"""Parts a test can break: a private redis-server, and a TCP proxy that can go silent.

The shared Redis on 6379 must never be stopped (other runs use it), so a test
that kills Redis starts its own on a free port.  Killing is ``SIGKILL``: the
server keeps nothing (no RDB, no AOF), so whatever was queued is lost with it,
as when an unpersisted Redis dies in production.

:class:`SilentProxy` forwards TCP to a server until :meth:`SilentProxy.go_silent`,
after which it keeps every connection open but passes no byte either way and
accepts new connections without answering: a partition where nothing closes,
the case only client timeouts bound.
"""

from __future__ import annotations

import contextlib
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


def free_port() -> int:
    """A port nothing listens on right now (the kernel's choice for port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, *, timeout: float = 10.0, up: bool = True) -> None:
    """Wait until ``127.0.0.1:port`` accepts connections (or, with ``up=False``, refuses them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not come {'up' if up else 'down'} in {timeout} s")


class PrivateRedis:
    """A redis-server of the test's own, on a free port, that the test may kill and restart."""

    def __init__(self, workdir: Path, *options: str) -> None:
        executable = shutil.which("redis-server")
        assert executable, "redis-server is needed (apt-get install redis-server)"
        self._executable = executable
        self._workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._options = options
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self._process is None, "already running"
        self._process = subprocess.Popen(
            [
                self._executable,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self._workdir)),
                *("--protected-mode", "no", "--loglevel", "warning"),
                *self._options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        """Die at once, as a crashed or evicted Redis does: every key is lost."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)
            self._process = None
        wait_for_port(self.port, up=False)

    def restart(self) -> None:
        """Come back, empty, on the same port."""
        self.start()


class SilentProxy:
    """A TCP forwarder to ``127.0.0.1:target_port`` that can stop passing bytes, silently."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._silent = threading.Event()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, name="silent-proxy", daemon=True)
        self._thread.start()

    def go_silent(self) -> None:
        """From now on no byte passes and new connections get no answer; nothing is closed."""
        self._silent.set()

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        peers: dict[socket.socket, socket.socket] = {}
        while not self._closed.is_set():
            if self._silent.is_set():
                # Keep everything open, read nothing: the kernel still accepts
                # connections (backlog) and acknowledges bytes, as a hung peer does.
                time.sleep(0.05)
                continue
            for key, _ in selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    client, _ = self._listener.accept()
                    upstream = socket.create_connection(("127.0.0.1", self.target_port))
                    self._sockets += [client, upstream]
                    peers[client], peers[upstream] = upstream, client
                    selector.register(client, selectors.EVENT_READ)
                    selector.register(upstream, selectors.EVENT_READ)
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if data:
                    with contextlib.suppress(OSError):
                        peers[sock].sendall(data)
                    continue
                other = peers.pop(sock)
                peers.pop(other, None)
                for closing in (sock, other):
                    with contextlib.suppress(KeyError, ValueError):
                        selector.unregister(closing)
                    with contextlib.suppress(OSError):
                        closing.close()
        selector.close()


class ObsykProcess:
    """One ``obsyk`` command running in a process of its own, its output kept in a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reference_app.cli", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a deployment stops it; the exit code (killed if it does not stop)."""
        if self.alive():
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
        code: int = self.process.returncode
        return code


def slow_job(seconds: float, marker: str) -> None:
    """A job for a real ``obsyk worker`` (importable as ``outages.slow_job``): say it started,
    take ``seconds``, then write ``marker``."""
    Path(f"{marker}.started").write_text("")
    time.sleep(seconds)
    Path(marker).write_text("done")
