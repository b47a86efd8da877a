"""Telling ``obsyk_resource_changed`` plugins about committed changes, in a background job.

One path for every ingestion (the agent endpoints and the staged-snapshot job):
:func:`announce_changes` queues :func:`notify_changes` with ids only, the
cluster, the ingestion's time (every version an ingestion writes carries it as
``changed_at``) and the uids it changed, and the job reads those versions back
from storage.  Nothing is queued unless some plugin implements the hook, so the
common case costs nothing, and queueing never fails an ingestion.

Running the job twice notifies once: its first run claims the batch in the
cache.  A run that dies half-way therefore loses the rest of its batch; like a
notification that could not be queued, that is the lesser harm next to making
the operator resend data that is already stored.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime

from obsyk_core.ingest import IngestResult, ResourceChange
from obsyk_core.plugins import Plugins
from obsyk_core.storage import ResourceVersion
from reference_app.metrics import count_changes
from reference_app.state import AppState, get_state

log = logging.getLogger(__name__)

#: Resources per job: a snapshot that added 100k resources becomes 200 small jobs.
UIDS_PER_JOB = 500
#: How long a batch is remembered as notified; far longer than any job retry.
CLAIM_SECONDS = 24 * 3600


def has_change_listeners(plugins: Plugins) -> bool:
    return plugins.implements("obsyk_resource_changed")


def announce_changes(state: AppState, result: IngestResult) -> None:
    """Count ``result``'s changes and queue their notification (they are already committed)."""
    count_changes(result.changes)
    if not result.changes or not has_change_listeners(state.plugins):
        return
    try:
        for cluster_id, changed_at, uids in _batches(result.changes):
            state.jobs.enqueue(notify_changes, cluster_id, changed_at.isoformat(), uids)
    except Exception:
        # The data is committed: failing the request now would only make the
        # operator resend what is stored.  Losing a notification is the lesser harm.
        log.exception("could not queue %d change notifications", len(result.changes))


def _batches(changes: Sequence[ResourceChange]) -> Iterator[tuple[str, datetime, list[str]]]:
    """(cluster_id, changed_at, distinct uids in first-change order), UIDS_PER_JOB at most.

    A uid changed several times in one ingestion stays in one batch, so the
    job notifies its versions in order.
    """
    uids: dict[tuple[str, datetime], dict[str, None]] = {}
    for change in changes:
        uids.setdefault((change.cluster_id, change.changed_at), {})[change.uid] = None
    for (cluster_id, changed_at), ordered in uids.items():
        distinct = list(ordered)
        for start in range(0, len(distinct), UIDS_PER_JOB):
            yield cluster_id, changed_at, distinct[start : start + UIDS_PER_JOB]


def notify_changes(cluster_id: str, changed_at_iso: str, uids: list[str]) -> int:
    """Job: call ``obsyk_resource_changed`` once per version an ingestion committed.

    The versions are those of ``uids`` in ``cluster_id`` whose ``changed_at`` is
    ``changed_at_iso``, in order per resource.  Returns how many were notified
    (0 when this batch was already notified).  A version pruned meanwhile is
    skipped.
    """
    state = get_state()
    if not state.cache.add(_claim_key(cluster_id, changed_at_iso, uids), b"1", CLAIM_SECONDS):
        log.info("changes of cluster %s at %s were already notified", cluster_id, changed_at_iso)
        return 0
    changed_at = datetime.fromisoformat(changed_at_iso)
    notified = 0
    for uid in uids:
        versions = [
            version
            for version in state.storage.resource_history(cluster_id, uid)
            if version.changed_at == changed_at
        ]
        if not versions:
            log.warning("no version of %s in cluster %s at %s", uid, cluster_id, changed_at_iso)
        for version in versions:
            state.plugins.notify_resource_changed(_as_change(version))
            notified += 1
    return notified


def _claim_key(cluster_id: str, changed_at_iso: str, uids: list[str]) -> str:
    digest = hashlib.sha256("\n".join([changed_at_iso, *uids]).encode()).hexdigest()[:32]
    return f"notified:{cluster_id}:{digest}"


def _as_change(version: ResourceVersion) -> ResourceChange:
    return ResourceChange(
        cluster_id=version.cluster_id,
        uid=version.uid,
        kind=version.kind,
        namespace=version.namespace,
        name=version.name,
        change=version.change,
        content_hash=version.content_hash,
        changed_at=version.changed_at,
    )
