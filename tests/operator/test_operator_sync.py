"""The operator against the Kubernetes test server (real ``kubernetes`` client), fake platform."""

from __future__ import annotations

import base64
from collections.abc import Callable

from fake_platform import FakePlatform

from obsyk_operator.operator import Operator
from obsyk_operator.testing.kube_server import KubeServer


def pod(name: str, namespace: str = "default", **spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx:1"}], **spec},
        "status": {"phase": "Pending"},
    }


def test_first_snapshot_carries_every_listed_object_across_pages(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    for i in range(7):  # page size is 3: three pages
        kube.add("pods", pod(f"web-{i}"))
    kube.add("nodes", {"metadata": {"name": "node-1"}})
    operator = start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    [snapshot] = platform.bodies("/snapshot")
    assert snapshot["cluster_uid"] == kube.kube_system_uid
    assert snapshot["cluster_name"] == "test-cluster"
    assert sorted(p["name"] for p in snapshot["pods"]) == [f"web-{i}" for i in range(7)]
    assert [n["name"] for n in snapshot["nodes"]] == ["node-1"]
    assert snapshot["deployments"] == []
    assert {ns["name"] for ns in snapshot["namespaces"]} == {"kube-system"}
    assert operator.ready.is_set()


def test_snapshot_carries_the_api_servers_kubernetes_version(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    kube.version_info = {"major": "1", "minor": "29", "gitVersion": "v1.29.4-gke.1043"}
    start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    [snapshot] = platform.bodies("/snapshot")
    assert snapshot["kubernetes_version"] == "v1.29.4-gke.1043"


def test_an_unreadable_version_leaves_it_out_and_the_snapshot_still_goes(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    kube.version_info = None
    kube.add("pods", pod("web"))
    start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    [snapshot] = platform.bodies("/snapshot")
    assert "kubernetes_version" not in snapshot
    assert [p["name"] for p in snapshot["pods"]] == ["web"]


def test_snapshot_of_all_core_kinds_has_twenty_arrays(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    start_operator(kinds=None)
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    [snapshot] = platform.bodies("/snapshot")
    arrays = {key for key, value in snapshot.items() if isinstance(value, list)}
    assert len(arrays) == 20
    assert {"pods", "pvcs", "network_policies", "cluster_role_bindings", "events"} <= arrays


def test_live_add_modify_delete_reach_the_platform_in_order(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    kube.add("pods", pod("old"))
    start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    kube.add("pods", pod("new"))
    platform.wait_for(lambda: "new" in platform.names("Pod"))
    kube.modify("pods", "new", {"status": {"phase": "Running"}}, namespace="default")
    platform.wait_for(
        lambda: any(r.get("phase") == "Running" for r in platform.records("Pod").values())
    )
    kube.delete("pods", "old", namespace="default")
    platform.wait_for(lambda: platform.names("Pod") == {"new"})
    events = [e for body in platform.bodies("/events") for e in body["events"]]
    assert [(e["type"], e["name"]) for e in events] == [
        ("added", "new"),
        ("modified", "new"),
        ("deleted", "old"),
    ]
    deleted = events[-1]
    assert "object" not in deleted
    assert deleted["namespace"] == "default"
    assert deleted["kind"] == "Pod"
    assert all(e["resource_version"] for e in events)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)


def test_a_delete_missed_during_a_watch_gap_is_repaired_after_410(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    kube.add("pods", pod("doomed"))
    kube.add("pods", pod("survivor"))
    operator = start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    with kube.watches_paused():
        kube.delete("pods", "doomed", namespace="default")
        kube.add("pods", pod("born-in-gap"))
        kube.compact()
    platform.wait_for(lambda: platform.names("Pod") == {"survivor", "born-in-gap"})
    pod_watcher = next(w for w in operator.watchers if w.kind == "Pod")
    assert pod_watcher.relists >= 2


def test_410_as_http_status_is_repaired_too(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    kube.gone_as_http = True
    kube.add("pods", pod("doomed"))
    start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    with kube.watches_paused():
        kube.delete("pods", "doomed", namespace="default")
        kube.compact()
    platform.wait_for(lambda: platform.names("Pod") == set())


def test_expired_watch_error_event_triggers_relist(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    operator = start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    pod_watcher = next(w for w in operator.watchers if w.kind == "Pod")
    platform.wait_for(lambda: kube.open_watches() >= len(operator.watchers))
    kube.expire_watches()
    platform.wait_for(lambda: pod_watcher.relists >= 2)


def test_dropped_watch_connections_resume_without_losing_changes(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    operator = start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    pod_watcher = next(w for w in operator.watchers if w.kind == "Pod")
    for i in range(3):
        kube.drop_watches()
        kube.add("pods", pod(f"p{i}"))
    platform.wait_for(lambda: platform.names("Pod") == {"p0", "p1", "p2"})
    # Resumed from the last resourceVersion: a dropped connection is not a reason to re-LIST.
    assert pod_watcher.relists == 1


def test_no_secret_or_configmap_value_ever_reaches_the_platform(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    secret_value = "hunter2-very-secret"
    kube.add(
        "secrets",
        {
            "metadata": {
                "name": "db",
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": secret_value,
                    "team": "payments",
                },
            },
            "type": "Opaque",
            "data": {"password": base64.b64encode(secret_value.encode()).decode()},
        },
    )
    kube.add("configmaps", {"metadata": {"name": "cfg"}, "data": {"token": secret_value}})
    start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    kube.modify(
        "secrets",
        "db",
        {"data": {"password": base64.b64encode(b"hunter3-also-secret").decode()}},
        namespace="default",
    )
    platform.wait_for(lambda: platform.bodies("/events"))
    kube.add(
        "pods",
        pod(
            "app",
            containers=[
                {"name": "c", "image": "x", "env": [{"name": "PW", "value": secret_value}]}
            ],
        ),
    )
    platform.wait_for(lambda: "app" in platform.names("Pod"))
    received = repr([r.body for r in platform.received])
    assert secret_value not in received
    assert base64.b64encode(secret_value.encode()).decode() not in received
    assert "hunter3" not in received and "aHVudGVyMy" not in received
    secret = next(iter(platform.records("Secret").values()))
    assert secret["data_keys"] == ["password"]
    assert secret["annotations"] == {"team": "payments"}
    # The value changed: its HMAC changed with it, and the key lives in the cluster.
    hashes = [
        e["object"]["data_hashes"]["password"]
        for body in platform.bodies("/events")
        for e in body["events"]
        if e["kind"] == "Secret"
    ]
    first = platform.bodies("/snapshot")[0]["secrets"][0]["data_hashes"]["password"]
    assert hashes and hashes[-1] != first
    assert kube.get("secrets", "obsyk-operator-hmac", namespace="obsyk-system")["data"]["key"]
