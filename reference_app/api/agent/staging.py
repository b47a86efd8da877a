"""Staging snapshots that are applied by a background job.

Chunked snapshots (``snapshot_id``/``chunk``/``final``) and single bodies
above ``async_snapshot_bytes`` are written to the storage's durable staging
area as they were validated (:mod:`reference_app.jobs.staged_form`), so the
job applies them without decoding and validating the body a second time; the
202 that follows means "durably staged".  Once the
final chunk and every chunk before it are staged, the
``reconcile_staged_snapshot`` job applies them in one transaction.  If the
queue loses the job, or never gets it (Redis down when the last chunk
arrived), the scheduler finds the ready snapshot again
(``Storage.ready_snapshots``), so nothing staged is ever lost and the 202
never waits for the queue.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from obsyk_core.storage import StagedChunk, Storage
from obsyk_core.wire import Snapshot
from reference_app.jobs.queue import JobQueue
from reference_app.jobs.staged import complete_snapshot

log = logging.getLogger(__name__)


def stage_snapshot(
    storage: Storage,
    jobs: JobQueue,
    cluster_id: str,
    snapshot: Snapshot,
    payload: bytes,
    *,
    received_at: datetime,
) -> tuple[str, bool]:
    """Stage one chunk (or a whole big snapshot as chunk 0); return (snapshot_id, queued).

    ``payload`` is the chunk in the staged form
    (:func:`reference_app.jobs.staged_form.staged_payload`); ``snapshot``
    supplies its id, number and finality.

    ``queued`` is True when this chunk completed the snapshot and the job to
    apply it was enqueued; False when the snapshot is not complete yet, or
    when the queue could not take the job (the chunk is staged all the same
    and ``recover_pending`` applies the snapshot once the queue is back).
    """
    snapshot_id = snapshot.snapshot_id or f"single-{uuid.uuid4()}"
    chunk = snapshot.chunk if snapshot.chunk is not None else 0
    final = snapshot.final if snapshot.chunked else True
    storage.stage_chunk(
        cluster_id,
        StagedChunk(
            snapshot_id=snapshot_id,
            chunk=chunk,
            final=final,
            payload=payload,
            received_at=received_at,
        ),
    )
    if not _is_complete(storage, cluster_id, snapshot_id):
        return snapshot_id, False
    from reference_app.jobs.tasks import reconcile_staged_snapshot

    try:
        # A fixed job id: a chunk resent while the job still waits does not queue it twice.
        jobs.enqueue(
            reconcile_staged_snapshot,
            cluster_id,
            snapshot_id,
            job_id=f"reconcile-staged:{cluster_id}:{snapshot_id}",
        )
    except Exception as error:
        # The snapshot is durably staged, which is all the 202 promises: failing
        # now would only make the operator resend it.  Recovery queues it later.
        log.warning(
            "staged snapshot %s of cluster %s not queued (recovery will apply it): %s",
            snapshot_id,
            cluster_id,
            error,
        )
        return snapshot_id, False
    return snapshot_id, True


def _is_complete(storage: Storage, cluster_id: str, snapshot_id: str) -> bool:
    """A final chunk is staged and no chunk before it is missing (any arrival order).

    The same rule the job applies (:func:`reference_app.jobs.staged.complete_snapshot`),
    over this one snapshot's chunks rather than every cluster's staging.
    """
    return complete_snapshot(storage.staged_chunks(cluster_id, snapshot_id)) is not None
