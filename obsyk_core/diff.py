"""What changed between two versions of a record, for the history view.

Two views of one change: the dotted paths of the fields added, removed and
changed (lists compared whole), and the values themselves
(:class:`ValueChange`): old -> new for a scalar, the entries added and removed
for a list or a map.  Lists of objects that each carry a distinct ``name``
(containers, ports, volumes) are matched by name, so a container's restart
count reads ``containers[web].restart_count: 1 -> 2`` instead of "containers
changed".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Marks "no value on this side" (a field added or removed), distinct from JSON null.
ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()


@dataclass(slots=True)
class ValueChange:
    """One changed value.

    For a scalar (or a value whose type changed) ``old`` and ``new`` hold the
    values, :data:`ABSENT` on the side where the field did not exist.  For a
    list whose items are not matched by name, ``added`` and ``removed`` hold
    the items that appeared and disappeared, and ``old``/``new`` are ABSENT.
    """

    path: str
    old: Any = ABSENT
    new: Any = ABSENT
    added: list[Any] = field(default_factory=list)
    removed: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class RecordDiff:
    """Dotted paths of fields added, removed and changed (lists compared whole), and the values."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    values: list[ValueChange] = field(default_factory=list)


def diff_records(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> RecordDiff:
    diff = RecordDiff()
    _walk(old or {}, new or {}, "", diff)
    _values(old or {}, new or {}, "", diff.values)
    return diff


def _walk(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str, diff: RecordDiff) -> None:
    for key in sorted(old.keys() | new.keys()):
        path = f"{prefix}{key}"
        if key not in old:
            diff.added.append(path)
        elif key not in new:
            diff.removed.append(path)
        elif isinstance(old[key], Mapping) and isinstance(new[key], Mapping):
            _walk(old[key], new[key], f"{path}.", diff)
        elif old[key] != new[key]:
            diff.changed.append(path)


def _values(old: Any, new: Any, path: str, out: list[ValueChange]) -> None:
    if old == new:
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(old.keys() | new.keys()):
            child = f"{path}.{key}" if path else str(key)
            _values(old.get(key, ABSENT), new.get(key, ABSENT), child, out)
        return
    if _is_list(old) and _is_list(new):
        old_named, new_named = _by_name(old), _by_name(new)
        if old_named is not None and new_named is not None:
            for name in sorted(old_named.keys() | new_named.keys()):
                item_path = f"{path}[{name}]"
                _values(old_named.get(name, ABSENT), new_named.get(name, ABSENT), item_path, out)
            return
        old_keys, new_keys = {_key(item) for item in old}, {_key(item) for item in new}
        added = [item for item in new if _key(item) not in old_keys]
        removed = [item for item in old if _key(item) not in new_keys]
        out.append(ValueChange(path, added=added, removed=removed))
        return
    out.append(ValueChange(path, old=old, new=new))


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _by_name(items: Sequence[Any]) -> dict[str, Any] | None:
    """Items keyed by their ``name`` when every item is an object with a distinct one."""
    named: dict[str, Any] = {}
    for item in items:
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or name in named:
            return None
        named[name] = item
    return named


def _key(item: Any) -> str:
    return json.dumps(item, sort_keys=True, default=str)
