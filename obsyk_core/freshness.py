"""Cluster freshness: computed from when the platform last heard from the operator."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from obsyk_core.storage import Cluster

ClusterStatus = Literal["pending", "connected", "disconnected"]

#: Above upstream's 5-minute heartbeat cadence, so one lost heartbeat is not an outage.
DEFAULT_THRESHOLD = timedelta(minutes=15)


def cluster_status(
    cluster: Cluster, now: datetime, threshold: timedelta = DEFAULT_THRESHOLD
) -> ClusterStatus:
    """``pending`` until first contact, then ``connected`` within ``threshold`` of the last.

    After that the cluster is ``disconnected`` until it is heard from again.
    """
    if cluster.last_seen_at is None:
        return "pending"
    return "connected" if now - cluster.last_seen_at <= threshold else "disconnected"
