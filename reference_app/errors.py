"""One JSON error shape everywhere: ``{"code", "status", "message", "errors"?}``.

``message`` is always present and written for a person; ``errors`` maps each
invalid field, by path (``pods.3.uid``), to its messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: "The request body is not valid JSON.",
    401: "Authentication is required: send 'Authorization: Bearer <token>'.",
    403: "You are not allowed to do this.",
    404: "Not found.",
    405: "This method is not allowed on this URL.",
    413: "The request body is too large.",
    415: "Send the body as application/json.",
    422: "The request body is invalid.",
    429: "Too many requests; retry later.",
    500: "The server failed; retry later.",
    503: "The service is temporarily unavailable; retry later.",
}


class ApiError(HTTPException):
    """Raise to answer with the error shape; ``code`` is a stable machine-readable slug."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or MESSAGES.get(status, "Request failed."))
        self.code = status
        self.slug = code or _slug(status)
        self.errors = errors
        self.extra_headers = headers or {}


def abort_json(status: int, message: str | None = None, **kwargs: Any) -> NoReturn:
    raise ApiError(status, message, **kwargs)


def _slug(status: int) -> str:
    from werkzeug.http import HTTP_STATUS_CODES

    return HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_").replace("'", "")


def error_body(
    status: int,
    message: str,
    code: str | None = None,
    errors: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The error shape as a dict, for answers not built by :func:`error_response` (OAuth's)."""
    body: dict[str, Any] = {"code": code or _slug(status), "status": status, "message": message}
    if errors:
        body["errors"] = errors
    return body


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    response = jsonify(error_body(status, message, code, errors))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def http_error_response(error: HTTPException) -> Response:
    """Any ``HTTPException`` (an :class:`ApiError` included) as the one error shape.

    The app's handler, and flask-smorest's (``ObsykApi.handle_http_exception``).
    """
    if isinstance(error, ApiError):
        return error_response(
            error.code or 500,
            error.description or "",
            code=error.slug,
            errors=error.errors,
            headers=error.extra_headers,
        )
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    # flask-smorest / webargs put validation messages under data["messages"].
    messages = data.get("messages") if isinstance(data, dict) else None
    errors = flatten_messages(messages) if messages else None
    message = MESSAGES.get(status) if errors or status in (413, 405) else None
    return error_response(
        status, message or error.description or MESSAGES.get(status, ""), errors=errors
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error_response)


_LOCATIONS = ("json", "query", "querystring", "form", "headers", "files", "cookies", "view_args")


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"a.0.b": [...]}``, without webargs' location level."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if not prefix and key in _LOCATIONS:
                flat.update(flatten_messages(value))
                continue
            flat.update(flatten_messages(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(messages, list) and not all(isinstance(m, str) for m in messages):
        for index, value in enumerate(messages):
            flat.update(flatten_messages(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        items = messages if isinstance(messages, list) else [messages]
        flat.setdefault(prefix or "_body", []).extend(str(m) for m in items)
    return flat
