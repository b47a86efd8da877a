"""Small, realistic records and events for the conformance suite.

Records are built by hand in the shape of CONTRACT.md section 4 so the suite
needs no kind plugin: the ingestion rules take validated
:class:`~obsyk_core.ingest.IncomingResource` objects, whatever their kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from obsyk_core.ingest import (
    IncomingResource,
    IngestResult,
    ResourceEvent,
    apply_events,
    reconcile_snapshot,
)
from obsyk_core.storage import ChangeType, ClusterSeen, Storage

#: The suite's clock: every ingestion happens at T0 + some minutes, in whole seconds
#: (a backend may store no finer than that).
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """``T0`` plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def pod(
    uid: str,
    name: str | None = None,
    *,
    namespace: str = "default",
    labels: Mapping[str, str] | None = None,
    image: str = "nginx:1.25",
    phase: str = "Running",
) -> IncomingResource:
    """A Pod record as the operator extracts it."""
    record: dict[str, Any] = {
        "uid": uid,
        "name": name or f"pod-{uid}",
        "namespace": namespace,
        "node_name": "node-1",
        "phase": phase,
        "containers": [
            {
                "name": "app",
                "image": image,
                "ready": phase == "Running",
                "restart_count": 0,
                "resources": {"cpu_request": "100m", "memory_limit": "128Mi"},
            }
        ],
        "k8s_created_at": "2024-04-30T08:00:00Z",
    }
    if labels:
        record["labels"] = dict(labels)
    return IncomingResource.from_record("Pod", record)


def deployment(
    uid: str,
    name: str | None = None,
    *,
    namespace: str = "default",
    labels: Mapping[str, str] | None = None,
    replicas: int = 2,
) -> IncomingResource:
    record: dict[str, Any] = {
        "uid": uid,
        "name": name or f"deploy-{uid}",
        "namespace": namespace,
        "replicas": replicas,
        "ready_replicas": replicas,
        "available_replicas": replicas,
        "updated_replicas": replicas,
        "strategy": "RollingUpdate",
        "image": "ghcr.io/acme/api:2.1.0",
        "annotations": {"team": "payments"},
    }
    if labels:
        record["labels"] = dict(labels)
    return IncomingResource.from_record("Deployment", record)


def node(uid: str, name: str | None = None, *, ready: bool = True) -> IncomingResource:
    """A cluster-scoped record: no namespace."""
    record: dict[str, Any] = {
        "uid": uid,
        "name": name or f"node-{uid}",
        "status": "Ready" if ready else "NotReady",
        "roles": ["worker"],
        "kubelet_version": "v1.30.2",
        "labels": {"kubernetes.io/os": "linux"},
    }
    return IncomingResource.from_record("Node", record)


def added(
    resource: IncomingResource, *, rv: int | None = None, seq: int | None = None
) -> ResourceEvent:
    return _event(ChangeType.ADDED, resource, rv, seq)


def modified(
    resource: IncomingResource, *, rv: int | None = None, seq: int | None = None
) -> ResourceEvent:
    return _event(ChangeType.MODIFIED, resource, rv, seq)


def deleted(
    resource: IncomingResource, *, rv: int | None = None, seq: int | None = None
) -> ResourceEvent:
    """A deletion as upstream sends it: identity only, no object."""
    event = _event(ChangeType.DELETED, resource, rv, seq)
    return ResourceEvent(
        type=event.type,
        kind=event.kind,
        uid=event.uid,
        name=event.name,
        namespace=event.namespace,
        resource=None,
        resource_version=rv,
        seq=seq,
    )


def _event(
    change: ChangeType, resource: IncomingResource, rv: int | None, seq: int | None
) -> ResourceEvent:
    return ResourceEvent(
        type=change,
        kind=resource.kind,
        uid=resource.uid,
        name=resource.name,
        namespace=resource.namespace,
        resource=resource,
        resource_version=rv,
        seq=seq,
    )


def snapshot(
    storage: Storage,
    cluster_id: str,
    received_at: datetime,
    resources: Mapping[str, Sequence[IncomingResource]],
    *,
    seen: ClusterSeen | None = None,
    staged_snapshot_id: str | None = None,
) -> IngestResult:
    """Reconcile a snapshot carrying exactly the kinds in ``resources``."""
    return reconcile_snapshot(
        storage,
        cluster_id,
        resources,
        received_at=received_at,
        seen=seen,
        staged_snapshot_id=staged_snapshot_id,
    )


def events(
    storage: Storage,
    cluster_id: str,
    received_at: datetime,
    *batch: ResourceEvent,
    seen: ClusterSeen | None = None,
) -> IngestResult:
    """Apply one request's events."""
    return apply_events(storage, cluster_id, list(batch), received_at=received_at, seen=seen)
