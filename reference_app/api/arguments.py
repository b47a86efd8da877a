"""Request-argument parsing for the user API: webargs failures in the one error shape.

flask-smorest parses ``@blp.arguments`` with webargs, which would abort with
its own payload; this parser raises :class:`~reference_app.errors.ApiError`
instead, with every problem under its plain field path (``limit``,
``label_selector``, ``public_key``), whatever the location it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar, cast

import marshmallow as ma
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser

from reference_app.errors import ApiError

F = TypeVar("F", bound=Callable[..., Any])
V = TypeVar("V", bound=type)

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


class ObsykParser(FlaskParser):
    def handle_error(
        self,
        error: ma.ValidationError,
        req: Any,
        schema: ma.Schema,
        *,
        error_status_code: int | None,
        error_headers: Mapping[str, str] | None,
    ) -> NoReturn:
        errors = flatten_messages(error.messages)
        names = ", ".join(sorted(errors))
        raise ApiError(
            error_status_code or 422,
            f"Invalid request arguments: {names}.",
            code="invalid_arguments",
            errors=errors,
        )

    def _handle_invalid_json_error(
        self, error: Exception, req: Any, *args: Any, **kwargs: Any
    ) -> NoReturn:
        raise ApiError(400, "The request body is not valid JSON.", code="malformed_json")


class ApiBlueprint(Blueprint):  # type: ignore[misc]  # flask-smorest ships no type hints
    """A flask-smorest Blueprint whose argument errors use the Obsyk error shape.

    The decorator methods are re-declared with types so that mypy keeps
    checking the views they decorate.
    """

    ARGUMENTS_PARSER = ObsykParser()

    def route(self, rule: str, **options: Any) -> Callable[[V], V]:
        return cast(Callable[[V], V], super().route(rule, **options))

    def arguments(self, schema: Any, **kwargs: Any) -> Callable[[F], F]:
        return cast(Callable[[F], F], super().arguments(schema, **kwargs))

    def response(self, status_code: int, schema: Any = None, **kwargs: Any) -> Callable[[F], F]:
        return cast(Callable[[F], F], super().response(status_code, schema, **kwargs))

    def alt_response(self, status_code: int, **kwargs: Any) -> Callable[[F], F]:
        return cast(Callable[[F], F], super().alt_response(status_code, **kwargs))

    def doc(self, **kwargs: Any) -> Callable[[F], F]:
        return cast(Callable[[F], F], super().doc(**kwargs))
