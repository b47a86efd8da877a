"""Heartbeat drift detection (CONTRACT.md section 2, extension).

The operator may send, per kind, how many live resources it has (``counts``)
and an order-independent digest of their (uid, content hash) pairs
(``digests``).  The platform computes the same from what it stores; every kind
that differs is asked back as ``{"resync": [...]}``.

The stored side is read with :meth:`Storage.stored_states`: only the narrow
per-resource state (uid, kind, hash, deleted), never the records, as of one
consistent read, so it cannot see a snapshot half-applied (which would report
drift that is not there), and without waiting for the cluster's ingestion lock,
so a heartbeat never queues behind a long snapshot reconcile.

Changes in flight are never drift.  Our operator leaves out the kinds whose
changes are still queued or being sent, and while a snapshot it sent is
staged (202) but not yet applied by its job, nothing is compared: the stored
state is then older than what the operator knows was accepted, and a resync
would only send the same snapshot again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from obsyk_core.hashing import kind_digest
from obsyk_core.kinds import KindRegistry
from obsyk_core.storage import ClusterSeen, Storage, StoredState


def stored_fingerprints(
    states: Iterable[StoredState], kinds: Iterable[str]
) -> dict[str, tuple[int, str]]:
    """(live count, digest) per kind, from the stored states."""
    pairs: dict[str, list[tuple[str, str]]] = {kind: [] for kind in kinds}
    for state in states:
        if state.deleted_at is None and state.kind in pairs:
            pairs[state.kind].append((state.uid, state.content_hash))
    return {kind: (len(items), kind_digest(items)) for kind, items in pairs.items()}


def kinds_to_resync(
    storage: Storage,
    cluster_id: str,
    *,
    counts: Mapping[str, int] | None,
    digests: Mapping[str, str] | None,
    known_kinds: KindRegistry,
    seen: ClusterSeen,
) -> list[str]:
    """Record the heartbeat and return the kinds whose stored state differs from the operator's.

    Kinds no installed plugin declares are ignored: the platform could not
    store a resync of them anyway.
    """
    reported = {kind for kind in (*(counts or {}), *(digests or {})) if kind in known_kinds}
    storage.mark_cluster_seen(cluster_id, seen)
    # Read before the states: a staged snapshot gone by then was applied (the job drops it
    # in the same transaction), so the states read next include it.
    if storage.ready_snapshots(cluster_id):
        return []  # accepted (202) and not applied yet: older than the operator, not different
    stored = stored_fingerprints(storage.stored_states(cluster_id, sorted(reported)), reported)
    drifted = []
    for kind in sorted(reported):
        count, digest = stored[kind]
        count_differs = counts is not None and kind in counts and counts[kind] != count
        digest_differs = digests is not None and kind in digests and digests[kind].lower() != digest
        if count_differs or digest_differs:
            drifted.append(kind)
    return drifted
