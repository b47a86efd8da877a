"""The agent endpoints of CONTRACT.md section 2: snapshot, events, heartbeat.

Every answer follows section 3: 2xx only once the data is committed (or
durably staged: 202), 4xx only for a request that can never succeed (and then
nothing was written), 5xx with ``Retry-After`` for the platform's own
transient failures so the upstream operator retries.  Validation runs in full
before anything is written, the cluster binding included.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar, cast

from flask.views import MethodView

from obsyk_core.ingest import IngestResult, apply_events, reconcile_snapshot
from obsyk_core.kinds import KindRegistry
from obsyk_core.storage import ClusterSeen
from obsyk_core.wire import BodyError, parse_events, parse_heartbeat, parse_snapshot
from reference_app.api.agent.binding import (
    ensure_cluster_bound,
    unknown_cluster,
)
from reference_app.api.agent.body import body_errors, read_json_body
from reference_app.api.agent.drift import kinds_to_resync
from reference_app.api.agent.dropped import report_dropped
from reference_app.api.agent.ignored import report_ignored
from reference_app.api.agent.schemas import (
    AcceptedKindsSchema,
    EventsAcceptedSchema,
    HeartbeatAnswerSchema,
    SnapshotAcceptedSchema,
)
from reference_app.api.agent.staging import stage_snapshot
from reference_app.api.arguments import ApiBlueprint
from reference_app.auth.guards import Permission, current_agent, requires
from reference_app.jobs.notifications import announce_changes
from reference_app.jobs.staged_form import staged_payload
from reference_app.kind_states import remember_kind_states
from reference_app.metrics import SNAPSHOT_RECONCILE, SNAPSHOT_STAGING
from reference_app.state import get_state

blp = ApiBlueprint(
    "agent",
    __name__,
    url_prefix="/api/v1/agent",
    description="Operator ingestion (CONTRACT.md section 2); token from /oauth/token.",
)

P = ParamSpec("P")
R = TypeVar("R")

_AGENT_ERRORS = {
    400: "Body is not JSON",
    401: "Missing, invalid or expired access token",
    403: "cluster_uid differs from the one bound to the credential's cluster",
    413: "Body above the endpoint's size limit",
    422: "Body invalid; `errors` lists every problem by path",
    503: "Storage temporarily unavailable; retry after `Retry-After` seconds",
}


def _agent_errors(view: Callable[P, R]) -> Callable[P, R]:
    """Document the error answers every agent endpoint shares, and its bearer security."""
    documented: Any = view
    for status, description in _AGENT_ERRORS.items():
        documented = blp.alt_response(status, description=description)(documented)
    return cast(Callable[P, R], blp.doc(security=[{"bearer": []}])(documented))


def _now() -> datetime:
    return datetime.now(UTC)


def _counts(result: IngestResult) -> dict[str, int]:
    return {
        "added": result.added,
        "modified": result.modified,
        "deleted": result.deleted,
        "unchanged": result.unchanged,
        "stale": result.stale,
    }


@blp.route("/snapshot")
class SnapshotView(MethodView):
    decorators = [requires(Permission.INGEST)]

    @blp.response(200, SnapshotAcceptedSchema, description="Committed")
    @blp.alt_response(202, schema=SnapshotAcceptedSchema, description="Durably staged")
    @_agent_errors
    def post(self) -> Any:
        """Receive a full snapshot, or one chunk of a chunked snapshot.

        Small unchunked snapshots are reconciled before the answer (200);
        chunks and large bodies are staged durably and applied by a job (202).
        """
        state = get_state()
        agent = current_agent()
        body, raw = read_json_body(state.settings.max_snapshot_bytes)
        size = len(raw)
        del raw  # decoded: staged (if it is) as validated, never as received
        ignored: set[str] = set()
        dropped: Counter[str] = Counter()
        try:
            snapshot = parse_snapshot(
                body, state.plugins.kinds, ignored_kinds=ignored, dropped_fields=dropped
            )
        except BodyError as error:
            body_errors(error)
        del body  # parsed: the decoded wrappers need not live through the write
        ensure_cluster_bound(state.storage, agent, snapshot.cluster_uid)
        now = _now()
        skipped: dict[str, Any] = {
            **report_ignored(ignored, endpoint="snapshot", cluster_id=agent.cluster_id),
            **report_dropped(dropped, endpoint="snapshot", cluster_id=agent.cluster_id),
        }
        if snapshot.chunked or size > state.settings.async_snapshot_bytes:
            with SNAPSHOT_STAGING.time():
                payload = staged_payload(snapshot)
                # The records are in the payload now: free the parsed ones before the write.
                snapshot.resources.clear()
                snapshot_id, queued = stage_snapshot(
                    state.storage, state.jobs, agent.cluster_id, snapshot, payload, received_at=now
                )
            # The snapshot time is set by the job that applies it, not here.
            state.storage.mark_cluster_seen(
                agent.cluster_id,
                ClusterSeen(
                    seen_at=now,
                    agent_version=snapshot.agent_version,
                    kubernetes_version=snapshot.kubernetes_version,
                ),
            )
            staged = {
                "status": "staged",
                "snapshot_id": snapshot_id,
                "chunk": snapshot.chunk or 0,
                "queued": queued,
                **skipped,
            }
            return staged, 202
        with SNAPSHOT_RECONCILE.labels("inline").time():
            result = reconcile_snapshot(
                state.storage,
                agent.cluster_id,
                snapshot.resources,
                received_at=now,
                seen=ClusterSeen(
                    seen_at=now,
                    snapshot_at=now,
                    agent_version=snapshot.agent_version,
                    kubernetes_version=snapshot.kubernetes_version,
                ),
            )
        announce_changes(state, result)
        return {"status": "committed", **_counts(result), **skipped}


@blp.route("/events")
class EventsView(MethodView):
    decorators = [requires(Permission.INGEST)]

    @blp.response(200, EventsAcceptedSchema, description="Committed")
    @_agent_errors
    def post(self) -> Any:
        """Receive one resource change (upstream) or a batch ``{"cluster_uid", "events": [...]}``.

        A batch is applied atomically, in ``seq`` order when every event has one.
        """
        state = get_state()
        agent = current_agent()
        body, _ = read_json_body(state.settings.max_event_bytes)
        ignored: set[str] = set()
        dropped: Counter[str] = Counter()
        try:
            cluster_uid, events = parse_events(
                body, state.plugins.kinds, ignored_kinds=ignored, dropped_fields=dropped
            )
        except BodyError as error:
            body_errors(error)
        del body  # parsed: the decoded wrappers need not live through the write
        ensure_cluster_bound(state.storage, agent, cluster_uid, state.cluster_bindings)
        now = _now()
        try:
            result = apply_events(
                state.storage,
                agent.cluster_id,
                events,
                received_at=now,
                seen=ClusterSeen(seen_at=now),
            )
        except LookupError:
            # Deleted since its binding was remembered? Then nothing was written: say so.
            if state.storage.get_cluster(agent.org_id, agent.cluster_id) is None:
                unknown_cluster()
            raise
        announce_changes(state, result)
        skipped: dict[str, Any] = {
            **report_ignored(ignored, endpoint="events", cluster_id=agent.cluster_id),
            **report_dropped(dropped, endpoint="events", cluster_id=agent.cluster_id),
        }
        return {"status": "committed", **_counts(result), **skipped}


@blp.route("/heartbeat")
class HeartbeatView(MethodView):
    decorators = [requires(Permission.INGEST)]

    @blp.response(200, HeartbeatAnswerSchema, description="Recorded")
    @_agent_errors
    def post(self) -> Any:
        """Record liveness; with ``counts``/``digests``, answer the kinds that drifted.

        The answer also lists the kinds this platform accepts (``kinds``), so
        an operator sends only those.
        """
        state = get_state()
        agent = current_agent()
        body, _ = read_json_body(state.settings.max_event_bytes)
        try:
            heartbeat = parse_heartbeat(body)
        except BodyError as error:
            body_errors(error)
        ensure_cluster_bound(state.storage, agent, heartbeat.cluster_uid, state.cluster_bindings)
        now = _now()
        seen = ClusterSeen(seen_at=now, heartbeat_at=now, agent_version=heartbeat.agent_version)
        if heartbeat.kinds is not None:
            remember_kind_states(
                state.cache,
                agent.cluster_id,
                heartbeat.kinds,
                ttl_seconds=state.settings.disconnected_after_seconds,
            )
        if not heartbeat.counts and not heartbeat.digests:
            state.storage.mark_cluster_seen(agent.cluster_id, seen)
            return {"resync": [], "kinds": accepted_kinds(state.plugins.kinds)}
        try:
            resync = kinds_to_resync(
                state.storage,
                agent.cluster_id,
                counts=heartbeat.counts,
                digests=heartbeat.digests,
                known_kinds=state.plugins.kinds,
                seen=seen,
            )
        except LookupError:
            # Deleted since its binding was remembered: a 4xx, never a retried 500.
            if state.storage.get_cluster(agent.org_id, agent.cluster_id) is None:
                unknown_cluster()
            raise
        # The states are read without the ingest transaction that would notice a
        # cluster deleted elsewhere; asking it for a resync would be retried forever.
        if resync and state.storage.get_cluster(agent.org_id, agent.cluster_id) is None:
            unknown_cluster()
        return {"resync": resync, "kinds": accepted_kinds(state.plugins.kinds)}


@blp.route("/kinds")
class KindsView(MethodView):
    decorators = [requires(Permission.INGEST)]

    @blp.response(200, AcceptedKindsSchema, description="The accepted kinds")
    @_agent_errors
    def get(self) -> Any:
        """The kinds this platform accepts (kind names), sorted: what an operator may send."""
        return {"kinds": accepted_kinds(get_state().plugins.kinds)}


def accepted_kinds(kinds: KindRegistry) -> list[str]:
    """Every kind name an installed plugin declares, sorted."""
    return sorted(kind.kind for kind in kinds)
