"""Marshmallow building blocks for the per-kind record schemas.

The platform must accept exactly what the upstream Go operator sends
(CONTRACT.md section 4), so every schema here:

- tolerates unknown fields at every level (``unknown = INCLUDE``), because a
  newer operator may add some: such a record is accepted, but only the
  declared fields are stored (:mod:`obsyk_core.record_trim`), and the
  annotations the operator's filter drops are dropped again on the platform;
- requires ``uid`` and ``name`` as non-empty strings and nothing else;
- lets every other field be absent *or* ``null``: Go marshals a nil slice or
  map without ``omitempty`` as ``null``;
- still rejects a value of the wrong JSON type (a string where a count is
  expected, ``"yes"`` for a boolean), because that is a broken sender.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate

from obsyk_core.record_trim import DROP_KEY
from obsyk_plugins.core_kinds.metadata import is_dropped_annotation
from obsyk_plugins.fastcheck import INVALID, FastCheck


class StrictBoolean(fields.Boolean):
    """A JSON ``true``/``false`` only; marshmallow's Boolean would take ``"yes"`` or ``1``."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class IntOrString(fields.Field[int | str]):
    """Kubernetes ``IntOrString`` (a port number or a port name): upstream sends it as a string."""

    default_error_messages = {"invalid": "Not a valid integer or string."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int | str:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.make_error("invalid")
        return value


# The fast record check (obsyk_plugins.fastcheck) compiles only field types it
# knows; these mirror the two _deserialize methods above exactly.
def _strict_boolean_value(value: Any) -> Any:
    return value if isinstance(value, bool) else INVALID


def _int_or_string_value(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return INVALID
    return value


def record_checks() -> FastCheck:
    """The fast record check, taught the two field types above."""
    checks = FastCheck()
    checks.register_field_checker(
        StrictBoolean, lambda field, compiler: _strict_boolean_value, always_valid=[bool]
    )
    checks.register_field_checker(
        IntOrString, lambda field, compiler: _int_or_string_value, always_valid=[int, str]
    )
    return checks


def optional_string() -> fields.String:
    return fields.String(allow_none=True)


def optional_integer() -> fields.Integer:
    return fields.Integer(strict=True, allow_none=True)


def optional_boolean() -> StrictBoolean:
    return StrictBoolean(allow_none=True)


def string_map(**metadata: Any) -> fields.Dict:
    """``map[string]string`` (labels, annotations, selectors)."""
    return fields.Dict(
        keys=fields.String(), values=fields.String(), allow_none=True, metadata=metadata
    )


def string_list() -> fields.List[str]:
    return fields.List(fields.String(), allow_none=True)


def nested_list(schema: type[Schema]) -> fields.List[Any]:
    return fields.List(fields.Nested(schema), allow_none=True)


def nested(schema: type[Schema]) -> fields.Nested:
    return fields.Nested(schema, allow_none=True)


class LenientSchema(Schema):
    """A nested object of a record: every field optional, unknown fields kept."""

    class Meta:
        unknown = INCLUDE


class OwnerReferenceSchema(LenientSchema):
    kind = optional_string()
    name = optional_string()
    uid = optional_string()
    controller = optional_boolean()


class RecordSchema(LenientSchema):
    """Every record: required ``uid`` and ``name``, labels, annotations, creation time.

    ``owner_references`` is our extension (the upstream operator sends none).
    """

    uid = fields.String(required=True, validate=validate.Length(min=1))
    name = fields.String(required=True, validate=validate.Length(min=1))
    labels = string_map()
    #: The operator's annotation filter, applied again to whatever an agent sends.
    annotations = string_map(**{DROP_KEY: is_dropped_annotation})
    k8s_created_at = optional_string()
    owner_references = nested_list(OwnerReferenceSchema)


class NamespacedRecordSchema(RecordSchema):
    namespace = optional_string()
