"""Records stored as their kind's schema describes: everything else is dropped, and counted.

The operator already sends only what its extractors keep (CONTRACT.md
section 4), but the platform must not rely on it: a misbehaving or foreign
agent may send a Secret's ``data``, a container's ``env`` values, an object's
``managedFields`` or the annotations the filter drops.  So the platform keeps,
at every level, only the fields the kind's schema declares (a schema's
``unknown = INCLUDE`` tolerates new fields in validation; they are still not
stored), and a ``Dict`` field declared with ``metadata={"drop_key": predicate}``
loses the keys the predicate names (the core kinds' annotations, with the
operator's own filter: one rule set, applied on both sides).

A trimmer is compiled once per schema (plain closures over the declared
fields); a record with nothing to drop is returned as it came, unchanged and
uncopied, after one set difference per object it holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import marshmallow
from marshmallow import fields

#: Field metadata naming a ``Dict`` field's keys that are never stored.
DROP_KEY = "drop_key"

#: ``trim(value, dropped) -> value`` (the same object when nothing was dropped).
Trim = Callable[[Any, "Counter[str]"], Any]

_TRIMMERS: dict[tuple[type[marshmallow.Schema], str], Trim] = {}


def trim_record(
    schema: type[marshmallow.Schema], record: Any, dropped: Counter[str], *, path: str = ""
) -> Any:
    """``record`` without what ``schema`` does not declare, each dropped path counted.

    Paths are ``path`` then dotted field names without list indexes
    (``containers.env``, ``annotations.kubectl.kubernetes.io/last-applied-configuration``),
    so a snapshot of many records reports each kind of drop once, with its count.
    The schema's shape is fixed, so every path but a dropped key's is built once,
    when the trimmer is compiled (per schema and ``path``).
    """
    trim = _TRIMMERS.get((schema, path))
    if trim is None:
        trim = _TRIMMERS[schema, path] = _mapping_trim(schema(), path)
    return trim(record, dropped)


def _mapping_trim(schema: marshmallow.Schema, path: str) -> Trim:
    return _compile_mapping(schema, path)[0]


def _compile_mapping(schema: marshmallow.Schema, path: str) -> tuple[Trim, frozenset[str] | None]:
    """The mapping's trimmer, and its declared keys when it holds nothing to trim further.

    A list of such leaf objects (a Pod's ports, mounts, conditions) is then
    checked inline, one ``issuperset`` per item, without a call per item.
    """
    declared = {field.data_key or name: field for name, field in schema.load_fields.items()}
    known = frozenset(declared)
    inner = [
        (key, sub)
        for key, field in declared.items()
        if (sub := _field_trim(field, f"{path}{key}.")) is not None
    ]

    def trim(value: Any, dropped: Counter[str]) -> Any:
        # type() first: parsed JSON is plain dicts, and an ABC isinstance costs more.
        if type(value) is not dict and not isinstance(value, Mapping):
            return value
        result: Mapping[str, Any] = value
        if not known.issuperset(value):
            result = {key: item for key, item in value.items() if key in known}
            dropped.update(f"{path}{key}" for key in value if key not in known)
        for key, trim_item in inner:
            item = result.get(key)
            if item is None:
                continue
            trimmed = trim_item(item, dropped)
            if trimmed is not item:
                result = {**result, key: trimmed}
        return result

    return trim, (None if inner else known)


def _field_trim(field: fields.Field[Any], path: str) -> Trim | None:
    """How to trim one declared field's value, or ``None`` when it is kept as sent."""
    if isinstance(field, fields.Nested) and isinstance(field.schema, marshmallow.Schema):
        mapping, leaf = _compile_mapping(field.schema, path)
        return _list_trim(mapping, leaf) if field.many else mapping
    if isinstance(field, fields.List):
        inner = field.inner
        if isinstance(inner, fields.Nested) and isinstance(inner.schema, marshmallow.Schema):
            return _list_trim(*_compile_mapping(inner.schema, path))
        item = _field_trim(inner, path)
        return _list_trim(item, None) if item is not None else None
    drop_key = field.metadata.get(DROP_KEY)
    if isinstance(field, fields.Dict) and drop_key is not None:
        return _keys_trim(drop_key, path)
    return None


def _list_trim(trim_item: Trim, leaf: frozenset[str] | None) -> Trim:
    def trim(value: Any, dropped: Counter[str]) -> Any:
        if type(value) is not list:
            return value
        result = value
        for index, item in enumerate(value):
            if leaf is not None and type(item) is dict and leaf.issuperset(item):
                continue  # a leaf object with only declared keys: nothing to trim
            trimmed = trim_item(item, dropped)
            if trimmed is not item:
                if result is value:
                    result = list(value)
                result[index] = trimmed
        return result

    return trim


def _keys_trim(drop_key: Callable[[str], bool], path: str) -> Trim:
    def trim(value: Any, dropped: Counter[str]) -> Any:
        if type(value) is not dict and not isinstance(value, Mapping):
            return value
        refused = [key for key in value if drop_key(key)]
        if not refused:
            return value
        dropped.update(f"{path}{key}" for key in refused)
        return {key: item for key, item in value.items() if key not in refused}

    return trim
