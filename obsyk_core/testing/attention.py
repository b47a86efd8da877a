"""Storage.attention: the rules of obsyk_core.attention, however a backend evaluates them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from obsyk_core.attention import AttentionRules
from obsyk_core.ingest import IncomingResource
from obsyk_core.storage import Storage
from obsyk_core.testing.base import ConformanceBase
from obsyk_core.testing.builders import T0, at, deployment, node, pod, snapshot

#: The rules' "now": pods created before T0 - 5 min are pending for long.
RULES = AttentionRules.at(T0)


def _record(kind: str, **fields: Any) -> IncomingResource:
    return IncomingResource.from_record(kind, fields)


def _container(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": "app:1", "ready": True, "restart_count": 0, **fields}


class AttentionConformance(ConformanceBase):
    def _attention_cluster(self, obsyk_storage: Storage) -> str:
        org = obsyk_storage.create_org("acme")
        cluster = obsyk_storage.create_cluster(org.id, "prod").id
        fresh = (T0 - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
        pods = [
            pod("p-ok", "ok"),
            _record("Pod", uid="p-crash", name="crash", namespace="shop", phase="Running",
                    containers=[_container("app", ready=False, state="waiting",
                                           reason="CrashLoopBackOff")]),
            _record("Pod", uid="p-pull", name="pull", namespace="shop", phase="Pending",
                    k8s_created_at=fresh,
                    init_containers=[_container("init", reason="ErrImagePull")]),
            _record("Pod", uid="p-old-pending", name="old-pending", namespace="shop",
                    phase="Pending", k8s_created_at="2024-04-30T08:00:00Z"),
            _record("Pod", uid="p-new-pending", name="new-pending", namespace="shop",
                    phase="Pending", k8s_created_at=fresh),
            _record("Pod", uid="p-unready", name="unready", namespace="shop", phase="Running",
                    containers=[_container("a"), _container("b", ready=False)]),
            _record("Pod", uid="p-failed", name="failed", namespace="shop", phase="Failed"),
            pod("p-gone", "gone", phase="Failed"),
        ]  # fmt: skip
        snapshot(
            obsyk_storage,
            cluster,
            at(-10),
            {
                "Pod": pods,
                "Node": [node("n-ok", "ok"), node("n-bad", "bad", ready=False)],
                "Deployment": [
                    deployment("d-ok", "ok"),
                    _record("Deployment", uid="d-low", name="low", namespace="shop",
                            replicas=3, ready_replicas=1),
                ],
                "DaemonSet": [
                    _record("DaemonSet", uid="ds-low", name="agent", namespace="kube-system",
                            desired_number_scheduled=4, number_ready=3),
                ],
                "Event": [
                    _record("Event", uid="e-new", name="crash.1", namespace="shop",
                            type="Warning", reason="BackOff", message="Back-off restarting",
                            last_timestamp="2024-05-01T09:30:00Z"),
                    _record("Event", uid="e-old", name="crash.0", namespace="shop",
                            type="Warning", reason="BackOff", message="old",
                            last_timestamp="2024-05-01T08:00:00Z"),
                    _record("Event", uid="e-normal", name="pulled", namespace="shop",
                            type="Normal", reason="Pulled", message="ok",
                            last_timestamp="2024-05-01T09:59:00Z"),
                ],
            },
        )  # fmt: skip
        # Deleted resources never need attention.
        snapshot(obsyk_storage, cluster, at(-9), {"Pod": [p for p in pods if p.uid != "p-gone"]})
        return cluster

    def test_attention_applies_every_rule_in_listing_order(self, obsyk_storage: Storage) -> None:
        cluster = self._attention_cluster(obsyk_storage)
        items = obsyk_storage.attention([cluster], RULES, limit=100)
        assert [(i.kind, i.name, i.reason, i.detail) for i in items] == [
            ("DaemonSet", "agent", "BelowDesired", "3 of 4 ready"),
            ("Deployment", "low", "BelowDesired", "1 of 3 ready"),
            ("Event", "crash.1", "Warning", "BackOff: Back-off restarting"),
            ("Node", "bad", "NotReady", "node status NotReady"),
            ("Pod", "crash", "CrashLoopBackOff", "container app"),
            ("Pod", "failed", "Failed", "the pod failed"),
            ("Pod", "old-pending", "Pending", "pending since 2024-04-30T08:00:00Z"),
            ("Pod", "pull", "ErrImagePull", "container init"),
            ("Pod", "unready", "NotReady", "1 of 2 containers ready"),
        ]
        assert {(i.cluster_id, i.namespace) for i in items if i.kind == "Node"} == {(cluster, None)}

    def test_attention_is_bounded_and_scoped(self, obsyk_storage: Storage) -> None:
        cluster = self._attention_cluster(obsyk_storage)
        assert [i.name for i in obsyk_storage.attention([cluster], RULES, limit=2)] == [
            "agent",
            "low",
        ]
        other = obsyk_storage.create_cluster(obsyk_storage.list_orgs()[0].id, "empty").id
        assert obsyk_storage.attention([other], RULES, limit=100) == []
        assert obsyk_storage.attention([], RULES, limit=100) == []
