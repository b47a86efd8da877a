"""Values no route can use, refused before any view (or the database) sees them.

A NUL byte in a URL or a JSON string can never name anything (PostgreSQL
refuses it in text), so it is answered 422 naming where it was, in one place:
a ``before_request`` hook for every query parameter and path segment, and
:func:`refuse_nul_strings` for the JSON bodies (agent bodies and the user
API's alike).  The common case pays one substring test.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from obsyk_core.limits import JSON_NUL, NUL, NUL_MESSAGE, nul_paths
from reference_app.errors import abort_json


def init_request_checks(app: Flask) -> None:
    """Check every request's URL before authentication and the view run."""
    app.before_request(_refuse_nul_in_url)


def _refuse_nul_in_url() -> None:
    names: list[str] = []
    if NUL in request.path:
        # The path variable holding it when the route matched, else the path itself.
        view_args = request.view_args or {}
        held = [name for name, value in view_args.items() if NUL in str(value)]
        names.extend(held or ["path"])
    if b"%00" in request.query_string or b"\x00" in request.query_string:
        names.extend(name for name, value in request.args.items(multi=True) if NUL in name + value)
    if names:
        errors = {name: [NUL_MESSAGE] for name in names}
        abort_json(
            422,
            f"Invalid request arguments: {', '.join(sorted(errors))}.",
            code="invalid_arguments",
            errors=errors,
        )


def refuse_nul_strings(raw: bytes, body: Any, *, code: str) -> None:
    """422 ``code`` naming every string (or key) of the decoded JSON ``body`` holding a NUL.

    ``raw`` is the JSON text: a NUL can only be written ``\\u0000`` in it, so a
    body without that sequence is never walked.
    """
    if JSON_NUL not in raw:
        return
    paths = sorted(set(nul_paths(body)))
    if paths:
        abort_json(
            422,
            f"The request body is invalid: {', '.join(paths)} must not contain a NUL byte.",
            code=code,
            errors={path: [NUL_MESSAGE] for path in paths},
        )
