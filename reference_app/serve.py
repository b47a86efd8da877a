"""``obsyk serve``: the platform under gunicorn, embedded in this process.

With the embedded defaults (SQLite, jobs on a thread of the app process) there
must be exactly one app process, so gunicorn runs one worker with threads;
with Redis configured the jobs live in RQ and any number of workers is fine.
Each gunicorn worker builds its own app after the fork (no preloading), so
no database connection or thread is ever shared across a fork.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


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
        "accesslog": "-",
    }


def run(make_app: Callable[[], Flask], options: dict[str, Any]) -> None:
    EmbeddedGunicorn(make_app, options).run()
