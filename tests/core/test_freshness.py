"""Cluster freshness: pending, connected, disconnected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from obsyk_core.freshness import DEFAULT_THRESHOLD, cluster_status
from obsyk_core.storage import Cluster

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def cluster(last_seen_at: datetime | None) -> Cluster:
    return Cluster("c1", "o1", "prod", NOW - timedelta(days=1), last_seen_at=last_seen_at)


def test_never_heard_from_is_pending() -> None:
    assert cluster_status(cluster(None), NOW) == "pending"


def test_heard_from_within_the_threshold_is_connected() -> None:
    assert timedelta(minutes=15) == DEFAULT_THRESHOLD
    assert cluster_status(cluster(NOW - timedelta(minutes=5)), NOW) == "connected"
    assert cluster_status(cluster(NOW - DEFAULT_THRESHOLD), NOW) == "connected"


def test_silent_for_longer_is_disconnected() -> None:
    late = NOW - DEFAULT_THRESHOLD - timedelta(seconds=1)
    assert cluster_status(cluster(late), NOW) == "disconnected"


def test_threshold_is_configurable() -> None:
    seen = cluster(NOW - timedelta(minutes=3))
    assert cluster_status(seen, NOW, threshold=timedelta(minutes=2)) == "disconnected"
    assert cluster_status(seen, NOW, threshold=timedelta(minutes=5)) == "connected"
