"""Reading an agent request body: size limits first, then JSON.

The limit is checked twice: from ``Content-Length`` before a byte is read (so
an oversized snapshot is refused without buffering it) and on the bytes
actually read (a chunked upload carries no length, and a lying header must not
get a body past the limit).
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from obsyk_core.wire import BodyError
from reference_app.errors import abort_json
from reference_app.request_checks import refuse_nul_strings


def _too_large(limit: int) -> None:
    abort_json(
        413,
        f"The request body is larger than this endpoint's limit of {limit} bytes.",
        code="body_too_large",
    )


def read_json_body(limit: int) -> tuple[Any, bytes]:
    """The parsed JSON body and its raw bytes; 413 over ``limit``, 400 when not JSON.

    422 when a string in it holds a NUL byte (see :mod:`reference_app.request_checks`).
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        _too_large(limit)
    # Werkzeug reads at most this many bytes of a body without a length (it may
    # truncate silently rather than raise): one byte over the limit is the tell.
    request.max_content_length = limit + 1
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        _too_large(limit)
    if len(raw) > limit:
        _too_large(limit)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        abort_json(400, f"The request body is not valid JSON: {error}", code="malformed_json")
    refuse_nul_strings(raw, body, code="invalid_body")
    return body, raw


def body_errors(error: BodyError) -> None:
    """Answer a body that failed validation: 422 with every problem by path."""
    count = len(error.errors)
    abort_json(
        422,
        f"The request body is invalid ({count} problem{'s' if count != 1 else ''}): {error}",
        code="invalid_body",
        errors=error.errors,
    )
