"""The background jobs.  Each is a module-level function taking ids, safe to run twice.

Jobs run inside an app context (the RQ worker's or the embedded thread's) and
find storage through :func:`reference_app.state.get_state`.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from obsyk_core.ingest import IncomingResource, IngestResult, reconcile_snapshot
from obsyk_core.kinds import KindRegistry
from obsyk_core.storage import ClusterSeen, StagedChunk
from obsyk_core.wire import BodyError, parse_snapshot
from reference_app.jobs.notifications import announce_changes
from reference_app.jobs.staged import complete_snapshot
from reference_app.jobs.staged_form import StagedResources, read_staged
from reference_app.metrics import SNAPSHOT_RECONCILE
from reference_app.state import get_state

log = logging.getLogger(__name__)


def reconcile_staged_snapshot(cluster_id: str, snapshot_id: str) -> IngestResult | None:
    """Apply a staged (chunked or large) snapshot in one transaction and drop its chunks.

    Running it twice is harmless: the chunks are dropped in the transaction that
    applies them, so a second run finds none and returns ``None``.  A snapshot
    that is not complete yet (no final chunk, or a gap before it) is left staged;
    one that can never be applied (its chunks no longer parse) is dropped.

    Complete snapshots of the same cluster that arrived before this one and are
    still staged (their job was lost with Redis, or never reached it) are
    applied first, oldest first: applied after a newer snapshot, an older one
    would bring back resources the newer one no longer has.
    """
    ready = [ready.snapshot_id for ready in get_state().storage.ready_snapshots(cluster_id)]
    for earlier in ready[: ready.index(snapshot_id)] if snapshot_id in ready else ():
        _apply_staged_snapshot(cluster_id, earlier)
    return _apply_staged_snapshot(cluster_id, snapshot_id)


def _apply_staged_snapshot(cluster_id: str, snapshot_id: str) -> IngestResult | None:
    state = get_state()
    staged = state.storage.staged_chunks(cluster_id, snapshot_id)
    if not staged:
        return None
    chunks = complete_snapshot(staged)
    if chunks is None:
        log.info("snapshot %s of cluster %s is not complete yet", snapshot_id, cluster_id)
        return None
    parsed = _parse_chunks(chunks)
    if isinstance(parsed, dict):
        # Chunks are validated before they are staged, so this means a chunk staged as
        # its body by an earlier version no longer validates, or one was altered: no
        # retry can ever apply the snapshot, and keeping it would only re-parse it on
        # every recovery run.  The operator's next snapshot replaces it.
        log.error(
            "dropping staged snapshot %s of cluster %s: its chunks no longer parse: %s",
            snapshot_id,
            cluster_id,
            parsed,
        )
        with state.storage.ingest(cluster_id) as tx:
            tx.drop_staged(snapshot_id)
        return None
    resources: dict[str, list[IncomingResource]] = {}
    meta: dict[str, str | None] = {}
    for staged_chunk in parsed:
        for kind, items in staged_chunk.resources.items():
            resources.setdefault(kind, []).extend(items)
        meta["agent_version"] = staged_chunk.agent_version or meta.get("agent_version")
        meta["kubernetes_version"] = staged_chunk.kubernetes_version or meta.get(
            "kubernetes_version"
        )
    # The snapshot describes the cluster as of its first chunk: an event that
    # arrived while later chunks were in flight is newer and must win.
    received_at = min(chunk.received_at for chunk in chunks)
    completed_at = max(chunk.received_at for chunk in chunks)
    del parsed, staged, chunks  # the resources hold what the write needs: the payloads go
    started = time.perf_counter()
    result = reconcile_snapshot(
        state.storage,
        cluster_id,
        resources,
        received_at=received_at,
        seen=ClusterSeen(
            seen_at=completed_at,
            snapshot_at=completed_at,
            agent_version=meta.get("agent_version"),
            kubernetes_version=meta.get("kubernetes_version"),
        ),
        staged_snapshot_id=snapshot_id,
    )
    SNAPSHOT_RECONCILE.labels("staged").observe(time.perf_counter() - started)
    log.info(
        "applied staged snapshot %s of cluster %s: %d changed",
        snapshot_id,
        cluster_id,
        result.changed,
    )
    # The same path as the agent endpoints: one queued job per batch, so a slow
    # plugin never holds up the next staged snapshot.
    announce_changes(state, result)
    return result


def _parse_chunks(chunks: list[StagedChunk]) -> list[StagedResources] | dict[int, Any]:
    """Every chunk's resources, or each unparseable chunk's number mapped to its errors.

    A chunk staged in the validated form (:mod:`reference_app.jobs.staged_form`)
    is read back without validating it again; anything else (a body staged by
    an earlier version, or a chunk whose digest no longer matches) is
    validated in full, as a body.  Kinds no installed plugin declares (one
    removed since the chunk was staged) are skipped, as the endpoint skips them.
    """
    kinds = get_state().plugins.kinds
    parsed: list[StagedResources] = []
    errors: dict[int, Any] = {}
    for chunk in chunks:
        ignored: set[str] = set()
        try:
            staged = read_staged(chunk.payload) or _validated(chunk.payload, kinds, ignored)
        except BodyError as error:
            errors[chunk.chunk] = error.errors
            continue
        except orjson.JSONDecodeError as error:
            errors[chunk.chunk] = str(error)
            continue
        ignored.update(kind for kind in staged.resources if kind not in kinds)
        for kind in ignored:
            staged.resources.pop(kind, None)
        if ignored:
            log.warning(
                "staged snapshot %s chunk %d: skipped %s: no installed plugin declares it",
                chunk.snapshot_id,
                chunk.chunk,
                ", ".join(sorted(ignored)),
            )
        parsed.append(staged)
    return errors or parsed


def _validated(payload: bytes, kinds: KindRegistry, ignored: set[str]) -> StagedResources:
    """A chunk staged as the body it came in, decoded and validated."""
    snapshot = parse_snapshot(orjson.loads(payload), kinds, ignored_kinds=ignored)
    return StagedResources(snapshot.agent_version, snapshot.kubernetes_version, snapshot.resources)


def prune_history() -> int:
    """Drop history older than ``OBSYK_HISTORY_DAYS`` (each resource keeps its newest version)."""
    state = get_state()
    before = datetime.now(UTC) - timedelta(days=state.settings.history_days)
    deleted = state.storage.prune_history(before)
    log.info("pruned %d history versions older than %s", deleted, before.isoformat())
    return deleted


def prune_sessions() -> int:
    """Delete browser sessions past their idle or absolute timeout (they sign nobody in)."""
    state = get_state()
    now = datetime.now(UTC)
    idle_before = now - timedelta(minutes=state.settings.session_idle_minutes)
    deleted = state.storage.prune_sessions(idle_before, now)
    log.info("pruned %d ended sign-in sessions", deleted)
    return deleted


def recover_pending() -> list[str]:
    """Find staged snapshots that are complete but were never applied, and apply them.

    This is the crash-recovery path: a worker that died mid-job, a queue that
    lost its jobs (Redis restarted) or an app restarted before its in-process
    thread ran leave complete snapshots staged; nothing else ever applies them.
    Also drops chunks of snapshots abandoned long ago (the operator started over).
    Returns the ids of the snapshots applied.
    """
    state = get_state()
    applied: list[str] = []
    for ready in state.storage.ready_snapshots():
        try:  # in arrival order, as reconcile_staged_snapshot would take them
            if _apply_staged_snapshot(ready.cluster_id, ready.snapshot_id) is not None:
                applied.append(ready.snapshot_id)
        except Exception:
            # One bad snapshot must not keep the others from being applied.
            log.exception(
                "recovering snapshot %s of cluster %s failed", ready.snapshot_id, ready.cluster_id
            )
    expiry = datetime.now(UTC) - timedelta(seconds=state.settings.staging_expiry_seconds)
    dropped = state.storage.prune_staging(expiry)
    if applied or dropped:
        log.info(
            "recovered %d staged snapshots, dropped %d abandoned chunks", len(applied), dropped
        )
    return applied
