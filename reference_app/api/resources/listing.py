"""Turning validated query arguments into one page of resources."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from obsyk_core.diff import diff_records
from obsyk_core.storage import (
    ApiToken,
    Membership,
    ResourceQuery,
    ResourceRow,
    ResourceVersion,
    Storage,
    sort_key,
)
from reference_app.api.cursors import encode_cursor
from reference_app.api.resources.org_clusters import is_org_cluster

#: ``authenticate_api_token``'s answer and the rows, of the token's org only.
TokenRows = tuple[tuple[ApiToken, Membership] | None, list[ResourceRow]]


def resource_page(
    read: Callable[[ResourceQuery], list[ResourceRow]],
    cluster_ids: Sequence[str],
    args: Mapping[str, Any],
) -> dict[str, Any]:
    """``{"items", "next_cursor"}`` for the filters in ``args`` over ``cluster_ids``.

    ``read`` is ``storage.query_resources`` or a read checking the token with it.
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


def resources_for_token(storage: Storage, token_hash: str, query: ResourceQuery) -> TokenRows:
    """The token check and ``query``'s rows from the token's org's clusters, together.

    A storage whose ``query_resources_for_token`` answers (the SQL backend on
    PostgreSQL, for one cluster's live listing) checks and reads in one
    statement, one round trip; otherwise (None) the token is checked, then the
    clusters (remembered: :mod:`org_clusters`), then the rows are read.
    """
    answer = storage.query_resources_for_token(token_hash, query)
    if answer is not None:
        return answer
    found = storage.authenticate_api_token(token_hash)
    if found is None:
        return None, []
    org_id = found[0].org_id
    mine = tuple(c for c in query.cluster_ids if is_org_cluster(storage, org_id, c))
    return found, storage.query_resources(replace(query, cluster_ids=mine)) if mine else []


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
                "diff": diff,
            }
        )
        previous = version.record
    return items
