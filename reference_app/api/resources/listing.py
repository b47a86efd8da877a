"""Turning validated query arguments into one page of resources."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from obsyk_core.diff import ABSENT, RecordDiff, ValueChange, diff_records
from obsyk_core.storage import (
    ResourceQuery,
    ResourceRow,
    ResourceVersion,
    sort_key,
)
from reference_app.api.cursors import encode_cursor


def resource_page(
    read: Callable[[ResourceQuery], list[ResourceRow]],
    cluster_ids: Sequence[str],
    args: Mapping[str, Any],
) -> dict[str, Any]:
    """``{"items", "next_cursor"}`` for the filters in ``args`` over ``cluster_ids``.

    ``read`` is ``storage.query_resources`` (a parameter so tests can count reads).
    """
    if not cluster_ids:
        # Never hand the storage an empty scope: "no clusters" must mean "nothing".
        return {"items": [], "next_cursor": None}
    limit: int = args["limit"]
    query = ResourceQuery(
        cluster_ids=tuple(cluster_ids),
        kind=args.get("kind"),
        namespace=args.get("namespace"),
        name_prefix=args.get("name"),
        name_contains=args.get("q"),
        labels=args.get("label_selector", ()),
        include_deleted=args["include_deleted"],
        as_of=args.get("as_of"),
        after=args.get("cursor"),
        # One more than asked tells whether another page exists.
        limit=limit + 1,
    )
    rows = read(query)
    items = rows[:limit]
    next_cursor = encode_cursor(sort_key(items[-1])) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


def history_items(versions: Sequence[ResourceVersion]) -> list[dict[str, Any]]:
    """Versions oldest first, numbered from 1, each with its diff against the one before."""
    items = []
    previous = None
    for number, version in enumerate(versions, start=1):
        diff = diff_records(previous, version.record)
        items.append(
            {
                "version": number,
                "change": str(version.change),
                "changed_at": version.changed_at,
                "content_hash": version.content_hash,
                "name": version.name,
                "namespace": version.namespace,
                "object": version.record,
                "diff": diff_json(diff),
            }
        )
        previous = version.record
    return items


def diff_json(diff: RecordDiff) -> dict[str, Any]:
    """The diff as the API answers it: a side that did not exist is left out, not null."""
    return {
        "added": diff.added,
        "removed": diff.removed,
        "changed": diff.changed,
        "values": [_value_change_json(change) for change in diff.values],
    }


def _value_change_json(change: ValueChange) -> dict[str, Any]:
    answer: dict[str, Any] = {"path": change.path}
    if change.old is not ABSENT:
        answer["old"] = change.old
    if change.new is not ABSENT:
        answer["new"] = change.new
    if change.added or change.removed:
        answer["added"] = change.added
        answer["removed"] = change.removed
    return answer
