"""A stored cluster as the API shows it: computed status and resource counts added."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from obsyk_core.cache import Cache
from obsyk_core.freshness import cluster_status
from obsyk_core.storage import Cluster, Storage
from reference_app.kind_states import kind_states_of


def kind_counts(storage: Storage, cluster_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Live resources by kind for each cluster, in one storage call."""
    counts: dict[str, dict[str, int]] = {cluster_id: {} for cluster_id in cluster_ids}
    if not cluster_ids:
        return counts
    for (cluster_id, kind, _namespace), number in storage.count_resources(cluster_ids).items():
        per_kind = counts.setdefault(cluster_id, {})
        per_kind[kind] = per_kind.get(kind, 0) + number
    return counts


def cluster_views(
    storage: Storage,
    clusters: Sequence[Cluster],
    *,
    disconnected_after_seconds: int,
    cache: Cache | None = None,
) -> list[dict[str, Any]]:
    """Each cluster with its status and counts, and (given the cache) its operator's kinds."""
    now = datetime.now(UTC)
    threshold = timedelta(seconds=disconnected_after_seconds)
    counts = kind_counts(storage, [cluster.id for cluster in clusters])
    return [
        {
            **asdict(cluster),
            "status": cluster_status(cluster, now, threshold),
            "resource_counts": counts.get(cluster.id, {}),
            "kinds": kind_states_of(cache, cluster.id) if cache is not None else None,
        }
        for cluster in clusters
    ]
