"""Request-argument parsing for the user API: webargs failures in the one error shape.

flask-smorest parses ``@blp.arguments`` with webargs, which would abort with
its own payload; this parser raises :class:`~reference_app.errors.ApiError`
instead, with every problem under its plain field path (``limit``,
``label_selector``, ``public_key``), whatever the location it came from.

Query strings given to a schema *instance* take a shorter road
(:class:`QueryArgsLoader`): each field deserializes its own value, as
``Schema.load`` would have it do, without webargs' proxy or the schema's
error bookkeeping; the first invalid value sends the request down the full
road, which words the 422.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar, cast

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint
from webargs.core import _UNKNOWN_DEFAULT_PARAM
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import MultiDict

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


_QUERY_LOCATIONS = ("query", "querystring")


class QueryArgsLoader:
    """``schema.load(query args)`` for a flat schema, or None where it would fail.

    What ``Schema.load`` does with ``unknown=EXCLUDE`` (webargs' rule for query
    strings) when the schema has no hooks and no multi-valued fields: every
    field deserializes the key's first value (or its own default when absent),
    and unknown keys are ignored.  Skipping webargs and marshmallow's schema
    machinery saves about a tenth of a listing's Python.  Any
    ``ValidationError`` returns None, so errors always come from the full
    parse, worded as before.
    """

    def __init__(self, schema: ma.Schema) -> None:
        #: (query key, field, key in the result); plain strings need no call.
        self.fields = [
            (field.data_key or name, field, field.attribute or name)
            for name, field in schema.load_fields.items()
        ]

    @staticmethod
    def supports(schema: ma.Schema) -> bool:
        if any(schema._hooks.values()) or schema.partial:
            return False
        return not any(
            getattr(field, "is_multiple", isinstance(field, (ma.fields.List, ma.fields.Tuple)))
            or isinstance(field, (ma.fields.Nested, ma.fields.Pluck))
            for field in schema.load_fields.values()
        )

    def load(self, args: MultiDict[str, str]) -> dict[str, Any] | None:
        given = args.to_dict()  # each key's first value, as webargs reads a single field
        loaded: dict[str, Any] = {}
        try:
            for key, field, attribute in self.fields:
                value = given.get(key, ma.missing)
                if value is ma.missing:
                    if field.required:
                        return None
                    default = field.load_default
                    value = default() if callable(default) else default
                elif type(field) is not ma.fields.String or field.validators:
                    value = field.deserialize(value, key, given)
                # else: a plain String field's text is its value
                if value is not ma.missing:
                    loaded[attribute] = value
        except ma.ValidationError:
            return None
        return loaded


_loaders: weakref.WeakKeyDictionary[ma.Schema, QueryArgsLoader | None] = weakref.WeakKeyDictionary()


def query_args_loader(schema: ma.Schema) -> QueryArgsLoader | None:
    """The schema's :class:`QueryArgsLoader`, built once; None if it needs the full parse."""
    try:
        return _loaders[schema]
    except KeyError:
        loader = QueryArgsLoader(schema) if QueryArgsLoader.supports(schema) else None
        _loaders[schema] = loader
        return loader


class ObsykParser(FlaskParser):
    def parse(
        self,
        argmap: Any,
        req: Any = None,
        *,
        location: str | None = None,
        unknown: str | None = _UNKNOWN_DEFAULT_PARAM,
        validate: Any = None,
        **kwargs: Any,
    ) -> Any:
        """The query string's fast road when it applies (see :class:`QueryArgsLoader`)."""
        if (
            location in _QUERY_LOCATIONS
            and isinstance(argmap, ma.Schema)
            and validate is None
            and unknown is _UNKNOWN_DEFAULT_PARAM
            and self.unknown is _UNKNOWN_DEFAULT_PARAM
            and (loader := query_args_loader(argmap)) is not None
            and (loaded := loader.load((req or request).args)) is not None
        ):
            return loaded
        return super().parse(
            argmap, req, location=location, unknown=unknown, validate=validate, **kwargs
        )

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
