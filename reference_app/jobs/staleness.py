"""Warning when a cluster goes silent.

A cluster's status is computed on read (:func:`obsyk_core.freshness.cluster_status`),
so nothing changes in storage when an operator stops talking.  This periodic
job looks at every cluster and logs one warning per silence: the first check
that finds a cluster ``disconnected`` warns; later checks of the same silence
do not.  A silence is identified by the cluster's ``last_seen_at``, remembered
in the cache (one key per cluster), so a cluster that comes back and goes
silent again is warned about again, even if no check saw it connected.

The warning is a log record with the facts as attributes (``event``,
``org_id``, ``cluster_id``, ``cluster_name``, ``last_seen_at``,
``silent_seconds``) for a JSON log formatter or a log-based alert.  The app
serves no metrics endpoint, so there is no gauge.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from obsyk_core.cache import Cache
from obsyk_core.freshness import cluster_status
from obsyk_core.storage import Cluster, Storage
from reference_app.state import get_state

log = logging.getLogger(__name__)

#: Seconds between two checks; a silence is reported at most this late.
CHECK_INTERVAL_SECONDS = 60
#: How long a reported silence is remembered: a cluster silent for longer is
#: reported again, once per this period, as a reminder.
REMEMBER_SECONDS = 30 * 24 * 3600
_PAGE = 500


def check_cluster_staleness(now: datetime | None = None) -> list[str]:
    """Job: warn about every cluster that went ``disconnected`` since it was last reported.

    ``now`` defaults to the current time (tests pass one).  Returns the ids of
    the clusters warned about by this run.
    """
    state = get_state()
    now = now or datetime.now(UTC)
    threshold = timedelta(seconds=state.settings.disconnected_after_seconds)
    newly_silent = []
    for cluster in all_clusters(state.storage):
        last_seen_at = cluster.last_seen_at
        if last_seen_at is None or cluster_status(cluster, now, threshold) != "disconnected":
            continue
        if _already_reported(state.cache, cluster.id, last_seen_at):
            continue
        _warn(cluster, last_seen_at, now)
        newly_silent.append(cluster.id)
    return newly_silent


def all_clusters(storage: Storage) -> Iterator[Cluster]:
    """Every cluster of every organization, a page at a time (also counted by /metrics)."""
    for org in storage.list_orgs():
        after: str | None = None
        while page := storage.list_clusters(org.id, after=after, limit=_PAGE):
            yield from page
            if len(page) < _PAGE:
                break
            after = page[-1].id


def _already_reported(cache: Cache, cluster_id: str, last_seen_at: datetime) -> bool:
    """True when this silence was reported; else remember it as reported now."""
    key = f"cluster-silence:{cluster_id}"
    silence = last_seen_at.isoformat().encode()
    if cache.get(key) == silence:
        return True
    cache.set(key, silence, REMEMBER_SECONDS)
    return False


def _warn(cluster: Cluster, last_seen_at: datetime, now: datetime) -> None:
    silent_seconds = int((now - last_seen_at).total_seconds())
    log.warning(
        "cluster %s (%s) went silent: nothing heard from it for %d s (last at %s)",
        cluster.name,
        cluster.id,
        silent_seconds,
        last_seen_at.isoformat(),
        extra={
            "event": "cluster_disconnected",
            "org_id": cluster.org_id,
            "cluster_id": cluster.id,
            "cluster_name": cluster.name,
            "last_seen_at": last_seen_at.isoformat(),
            "silent_seconds": silent_seconds,
        },
    )
