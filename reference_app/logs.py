"""Structured logs: one JSON object per line (structlog), each request's lines carrying its id.

:func:`configure_logging` is called once by each process's entry point
(``obsyk serve``, ``worker``, ``scheduler``), never by ``create_app``: logging
is process-wide state, and an app built inside someone else's process (tests,
an embedding service) keeps that process's logging.  It routes the standard
library's records (the app's own ``logging.getLogger`` calls, gunicorn, rq)
through structlog's formatter, so every line has one shape.

:func:`init_request_logging` gives each request an id (the caller's
``X-Request-ID`` when it is a sane one, else a new one), binds it to every line
logged while the request runs, returns it in the response's ``X-Request-ID``,
and writes one access line per request unless ``OBSYK_ACCESS_LOG`` is off.
:func:`job_log_context` does the same for a background job's lines (``job_id``).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextlib import AbstractContextManager

import structlog
from flask import Flask, Response, g, request

from reference_app.config import Settings

REQUEST_ID_HEADER = "X-Request-ID"
#: A caller's id is kept only if it cannot smuggle anything into a log line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
access_log = logging.getLogger("obsyk.access")


def configure_logging(settings: Settings) -> None:
    """Route every log record of this process through structlog (JSON or console lines)."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        # The fields a standard-library call passes as ``extra=`` (the access line's).
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(colors=False)
        if settings.log_format == "console"
        else structlog.processors.JSONRenderer()
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in ("gunicorn.error", "gunicorn.access", "rq.worker"):
        # Their own handlers would print a second, unstructured copy.
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def init_request_logging(app: Flask, settings: Settings) -> None:
    app.before_request(_bind_request_id)
    app.after_request(_log_access if settings.access_log else _echo_request_id)
    app.teardown_request(_unbind_request_id)


def _bind_request_id() -> None:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.obsyk_request_id = request_id
    g.obsyk_request_started = time.perf_counter()
    structlog.contextvars.bind_contextvars(request_id=request_id)


def _echo_request_id(response: Response) -> Response:
    request_id = g.get("obsyk_request_id")
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _log_access(response: Response) -> Response:
    started = g.get("obsyk_request_started")
    if started is not None and access_log.isEnabledFor(logging.INFO):
        rule = request.url_rule
        # The path without its query string: queries may carry cursors or filters
        # that are the caller's business, and a token must never reach a log.
        access_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "route": rule.rule if rule is not None else None,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "remote_addr": request.remote_addr,
                "bytes_in": request.content_length or 0,
            },
        )
    return _echo_request_id(response)


def _unbind_request_id(_error: BaseException | None) -> None:
    structlog.contextvars.unbind_contextvars("request_id")


def job_log_context(job_id: str, job: str | None) -> AbstractContextManager[None]:
    """Every line logged while a background job runs carries its id and function."""
    return structlog.contextvars.bound_contextvars(job_id=job_id, job=job)
