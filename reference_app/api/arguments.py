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
import orjson
from flask import Request
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser

from reference_app.errors import ApiError, flatten_messages
from reference_app.request_checks import refuse_nul_strings

F = TypeVar("F", bound=Callable[..., Any])
V = TypeVar("V", bound=type)


class ObsykParser(FlaskParser):
    """webargs' Flask parser, failing with :class:`ApiError` through its public hooks."""

    def load_json(self, req: Request, schema: ma.Schema) -> Any:
        """The JSON body (``missing`` when there is none); 400 ``malformed_json`` when not JSON."""
        if not req.is_json:
            return ma.missing
        raw = req.get_data(cache=True)
        if not raw:
            return ma.missing
        try:
            # orjson, like the agent endpoints: its depth limit is an error, where the
            # standard library's parser recurses until RecursionError (a 500).
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:  # bad UTF-8 and too deep alike
            raise ApiError(
                400, "The request body is not valid JSON.", code="malformed_json"
            ) from None
        refuse_nul_strings(raw, body, code="invalid_arguments")
        return body

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
