"""What changed between two versions of a record, for the history view."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class RecordDiff:
    """Dotted paths of fields added, removed and changed (lists compared whole)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


def diff_records(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> RecordDiff:
    diff = RecordDiff()
    _walk(old or {}, new or {}, "", diff)
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
