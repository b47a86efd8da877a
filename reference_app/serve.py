"""``obsyk serve``: the platform under gunicorn, embedded in this process.

With the embedded defaults (SQLite, jobs on a thread of the app process) there
must be exactly one app process, so gunicorn runs one worker with threads;
with Redis configured the jobs live in RQ and any number of workers is fine.
Each gunicorn worker builds its own app after the fork (no preloading), so
no database connection or thread is ever shared across a fork.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication

#: prometheus-client's multiprocess directory variable (its name is its API).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class EmbeddedGunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, make_app: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._make_app = make_app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._make_app()


def gunicorn_options(
    host: str, port: int, *, in_process_jobs: bool, workers: int | None, threads: int
) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": 1 if in_process_jobs else (workers or 2),
        "threads": threads,
        "worker_class": "gthread",
        # Large snapshots take a while to upload and reconcile.
        "timeout": 300,
        # The app writes its own access line (JSON, with the request id and route),
        # switched by OBSYK_ACCESS_LOG; gunicorn's would be a second, unstructured one.
        "accesslog": None,
        "logger_class": StructuredGunicornLogger,
        # No runtime management socket (gunicorn >= 25): nothing uses it, and under a
        # read-only root filesystem its default place ($HOME/.gunicorn) is not writable.
        "control_socket_disable": True,
        "child_exit": _forget_worker_metrics,
    }


class StructuredGunicornLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's own messages through the process's logging (JSON lines, see logs.py).

    gunicorn gives its loggers handlers of its own; dropping them and letting the
    records propagate puts its start-up and worker messages in the same shape as
    everything else.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.handlers[:] = []
            log.propagate = True


def prepare_metrics_dir() -> Path:
    """An empty ``PROMETHEUS_MULTIPROC_DIR`` for this server's workers, set before they start.

    A directory the deployment names is emptied (samples of a previous run would
    be added to this one's); otherwise a fresh one is made under the temp dir.
    Must run before any worker imports prometheus-client, which reads the
    variable once: gunicorn forks the workers after this, without preloading.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = Path(tempfile.mkdtemp(prefix="obsyk-metrics-"))
        os.environ[MULTIPROC_ENV] = str(directory)
        # Removed when this (master) process exits; the forked workers inherit the
        # handler, and one of them exiting must not take the directory with it.
        atexit.register(_remove_if_owner, directory, os.getpid())
    return directory


def _remove_if_owner(directory: Path, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(directory, ignore_errors=True)


def _forget_worker_metrics(_server: Any, worker: Any) -> None:
    # A dead worker's live gauges must not be summed any more (prometheus-client's rule).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def run(make_app: Callable[[], Flask], options: dict[str, Any]) -> None:
    EmbeddedGunicorn(make_app, options).run()
