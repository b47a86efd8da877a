"""``obsyk serve --demo``: an org with one realistic cluster and some history to explore.

The data goes in the way a real operator's would: raw Kubernetes objects from
the synthetic cluster generator, projected by each kind's ``extract``, applied
as a snapshot three days ago, then a few rounds of changes (scale-ups, pod
restarts, deletions, new pods) and a heartbeat now.  Seeding twice does nothing
the second time.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from obsyk_core.ingest import (
    IncomingResource,
    ResourceEvent,
    apply_events,
    group_by_kind,
    reconcile_snapshot,
)
from obsyk_core.kinds import KindRegistry
from obsyk_core.storage import ChangeType, Cluster, ClusterSeen, Organization, Storage
from reference_app import demo_shop
from reference_app.auth.api_tokens import grant_api_token
from reference_app.auth.credentials import register_cluster

DEMO_ORG = "demo"
DEMO_CLUSTER = "demo-cluster"
#: A second cluster, silent for hours: the overview lists it as disconnected.
DEMO_EDGE_CLUSTER = "demo-edge"
DEMO_EMAIL = "demo@obsyk.local"
DEMO_RESOURCES = 400


@dataclass(frozen=True, slots=True)
class DemoSeed:
    org: Organization
    cluster: Cluster
    #: A fresh owner API token for the demo user.
    token: str
    #: False when the demo data was already there.
    seeded: bool


def seed_demo(
    storage: Storage,
    kinds: KindRegistry,
    *,
    total: int = DEMO_RESOURCES,
    now: datetime | None = None,
) -> DemoSeed:
    now = now or datetime.now(UTC)
    org = storage.get_org(DEMO_ORG) or storage.create_org(DEMO_ORG)
    cluster = next((c for c in storage.list_clusters(org.id) if c.name == DEMO_CLUSTER), None)
    seeded = False
    if cluster is None:
        cluster = register_cluster(storage, org.id, DEMO_CLUSTER).cluster
    if not storage.count_resources([cluster.id]):
        _ingest_history(storage, kinds, cluster, total, now)
        _ingest_edge(storage, kinds, org, now)
        seeded = True
    token = grant_api_token(storage, org.id, DEMO_EMAIL, "owner", name="demo").token
    return DemoSeed(org, storage.get_cluster(org.id, cluster.id) or cluster, token, seeded)


def synthetic_resources(kinds: KindRegistry, total: int) -> list[IncomingResource]:
    """Raw objects of a realistic cluster, extracted like the operator does."""
    from obsyk_plugins.core_kinds.testing.samples import synthetic_cluster

    return _extracted(kinds, synthetic_cluster(total, seed=7))


def _extracted(
    kinds: KindRegistry, objects: Iterable[tuple[str, Mapping[str, Any]]]
) -> list[IncomingResource]:
    return [
        IncomingResource.from_record(kind_name, kinds.by_kind(kind_name).extract(raw))
        for kind_name, raw in objects
    ]


def _ingest_edge(storage: Storage, kinds: KindRegistry, org: Organization, now: datetime) -> None:
    """The second cluster: the shop's image runs there too; heard from last 3 hours ago."""
    cluster = register_cluster(storage, org.id, DEMO_EDGE_CLUSTER).cluster
    then = now - timedelta(hours=3)
    resources = _extracted(kinds, demo_shop.edge_objects(cluster.id, now))
    storage.bind_cluster_uid(cluster.id, str(uuid.uuid5(uuid.NAMESPACE_URL, cluster.id)))
    reconcile_snapshot(
        storage,
        cluster.id,
        group_by_kind(resources),
        received_at=then,
        seen=ClusterSeen(
            seen_at=then,
            heartbeat_at=then,
            snapshot_at=then,
            agent_version="0.3.2",
            kubernetes_version="v1.30.2",
        ),
    )


def _ingest_history(
    storage: Storage, kinds: KindRegistry, cluster: Cluster, total: int, now: datetime
) -> None:
    resources = synthetic_resources(kinds, total)
    shop = _extracted(kinds, demo_shop.shop_objects(cluster.id, now))
    shop_namespaces = {r.name for r in shop if r.kind == "Namespace"}
    resources = [
        r for r in resources if not (r.kind == "Namespace" and r.name in shop_namespaces)
    ] + shop
    kube_system = next(
        (r.uid for r in resources if r.kind == "Namespace" and r.name == "kube-system"),
        str(uuid.uuid4()),
    )
    storage.bind_cluster_uid(cluster.id, kube_system)
    start = now - timedelta(days=3)
    reconcile_snapshot(
        storage,
        cluster.id,
        group_by_kind(resources),
        received_at=start,
        seen=ClusterSeen(
            seen_at=start, snapshot_at=start, agent_version="0.3.2", kubernetes_version="v1.29.4"
        ),
    )
    # The rounds change the synthetic workloads only: the shop stays as it is.
    pods = [r for r in resources if r.kind == "Pod" and r.namespace != demo_shop.NAMESPACE]
    deployments = [
        r for r in resources if r.kind == "Deployment" and r.namespace != demo_shop.NAMESPACE
    ]
    for round_number, ago in enumerate((timedelta(days=2), timedelta(days=1), timedelta(hours=2))):
        at = now - ago
        events = [_modified(d, _scaled(d.record, round_number)) for d in deployments[:5]]
        events += [_modified(p, _restarted(p.record, round_number)) for p in pods[3:8]]
        if round_number == 1:
            events += [_deleted(p) for p in pods[:3]]
        if round_number == 2 and pods:
            events.append(_added(_new_pod(pods[-1])))
        apply_events(
            storage,
            cluster.id,
            events,
            received_at=at,
            seen=ClusterSeen(seen_at=at, agent_version="0.3.2"),
        )
    storage.mark_cluster_seen(
        cluster.id, ClusterSeen(seen_at=now, heartbeat_at=now, agent_version="0.3.2")
    )


def _event(
    type_: ChangeType, item: IncomingResource, record: Mapping[str, Any] | None
) -> ResourceEvent:
    resource = IncomingResource.from_record(item.kind, record) if record is not None else None
    return ResourceEvent(type_, item.kind, item.uid, item.name, item.namespace, resource)


def _modified(item: IncomingResource, record: dict[str, Any]) -> ResourceEvent:
    return _event(ChangeType.MODIFIED, item, record)


def _added(item: IncomingResource) -> ResourceEvent:
    return _event(ChangeType.ADDED, item, item.record)


def _deleted(item: IncomingResource) -> ResourceEvent:
    return _event(ChangeType.DELETED, item, None)


def _scaled(record: Mapping[str, Any], step: int) -> dict[str, Any]:
    scaled = copy.deepcopy(dict(record))
    replicas = int(scaled.get("replicas") or 1) + step + 1
    scaled.update(
        replicas=replicas,
        ready_replicas=replicas,
        available_replicas=replicas,
        updated_replicas=replicas,
    )
    return scaled


def _restarted(record: Mapping[str, Any], step: int) -> dict[str, Any]:
    restarted = copy.deepcopy(dict(record))
    for container in restarted.get("containers") or []:
        container["restart_count"] = int(container.get("restart_count") or 0) + step + 1
    restarted.setdefault("labels", {})["demo.obsyk.dev/revision"] = str(step + 1)
    return restarted


def _new_pod(template: IncomingResource) -> IncomingResource:
    record = copy.deepcopy(dict(template.record))
    record["uid"] = str(uuid.uuid4())
    record["name"] = f"{template.name}-canary"
    return IncomingResource.from_record(template.kind, record)
