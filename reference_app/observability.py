"""The app's production plumbing in one call: request ids and access log, metrics, health."""

from __future__ import annotations

from flask import Flask

from reference_app.health import init_health
from reference_app.logs import init_request_logging
from reference_app.metrics import init_metrics
from reference_app.state import get_state


def init_observability(app: Flask) -> None:
    # Request logging first: its request id is bound before any other hook logs.
    init_request_logging(app, get_state(app).settings)
    init_metrics(app)
    init_health(app)


def close_observability(app: Flask) -> None:
    state = get_state(app)
    readiness, state.readiness = state.readiness, None
    if readiness is not None:
        readiness.close()
