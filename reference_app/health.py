"""``/healthz`` (the process answers) and ``/readyz`` (its database and Redis answer in time).

Kubernetes restarts a pod whose ``/healthz`` fails and takes a pod whose
``/readyz`` fails out of the Service until it recovers, so ``/healthz`` checks
nothing outside the process (a database outage must not restart every pod),
and ``/readyz`` asks each dependency one cheap question, answering 503 with
the reason when one fails or is slower than ``OBSYK_READINESS_TIMEOUT_SECONDS``.

The checks run on a small pool per app, so a dependency that hangs cannot hold
a request thread; while an earlier check of it is still stuck, a probe reports
that instead of queueing another behind it.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify

from reference_app.errors import error_response
from reference_app.state import AppState, get_state

blp = Blueprint("health", __name__)

Check = Callable[[], Any]


class ReadinessChecks:
    """Runs each named check with a timeout; at most one run of a check in flight."""

    def __init__(self, checks: dict[str, Check], timeout: float) -> None:
        self._checks = checks
        self._timeout = timeout
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, len(checks)), thread_name_prefix="obsyk-readyz"
        )
        self._running: dict[str, concurrent.futures.Future[Any]] = {}
        self._lock = threading.Lock()

    def run(self) -> dict[str, str]:
        """Each check's name mapped to ``"ok"`` or why it failed."""
        with self._lock:
            futures = {}
            for name, check in self._checks.items():
                running = self._running.get(name)
                if running is None or running.done():
                    running = self._running[name] = self._pool.submit(check)
                futures[name] = running
        done, _ = concurrent.futures.wait(futures.values(), timeout=self._timeout)
        results = {}
        for name, future in futures.items():
            if future not in done:
                results[name] = f"did not answer within {self._timeout:g} s"
            elif (error := future.exception()) is not None:
                results[name] = f"{type(error).__name__}: {_first_line(error)}"
            else:
                results[name] = "ok"
        return results

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _first_line(error: BaseException) -> str:
    # Driver messages can span lines (and quote SQL); the first names the problem.
    text = str(error).strip().splitlines()
    return text[0][:200] if text else "failed"


def _checks(state: AppState) -> dict[str, Check]:
    checks: dict[str, Check] = {
        # One indexed look-up through the storage interface, whatever the backend.
        "database": lambda: state.storage.get_org("00000000-0000-0000-0000-000000000000"),
    }
    connection = getattr(state.jobs, "connection", None)
    if connection is not None:
        checks["redis"] = connection.ping
    return checks


def init_health(app: Flask) -> None:
    state = get_state(app)
    state.readiness = ReadinessChecks(_checks(state), state.settings.readiness_timeout_seconds)
    app.register_blueprint(blp)


@blp.get("/healthz")
def healthz() -> Response:
    """The process is up and serving requests."""
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz() -> Response:
    """Ready when the database and (if configured) Redis answer in time; else 503 and why."""
    checks = get_state(current_app).readiness
    assert checks is not None, "init_health ran"
    results = checks.run()
    failed = {name: reason for name, reason in results.items() if reason != "ok"}
    if not failed:
        return jsonify(status="ok", checks=results)
    message = "Not ready: " + "; ".join(f"{name} {reason}" for name, reason in failed.items())
    return error_response(
        503,
        message,
        code="not_ready",
        errors={name: [reason] for name, reason in failed.items()},
        headers={"Retry-After": "5"},
    )
