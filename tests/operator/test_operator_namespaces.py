"""``--namespaces``: namespaced kinds are listed and watched in those namespaces only."""

from __future__ import annotations

from collections.abc import Callable

from fake_platform import FakePlatform
from test_operator_sync import pod

from obsyk_operator.operator import Operator
from obsyk_operator.testing.kube_server import KubeServer

SELECTED = frozenset({"team-a", "team-b"})


def pod_names(platform: FakePlatform) -> set[tuple[str, str]]:
    return {(p["namespace"], p["name"]) for p in platform.records("Pod").values()}


def watched_paths(kube: KubeServer) -> set[str]:
    with kube._lock:
        return {path for (method, path) in kube.requests if method == "GET"}


def test_namespaced_kinds_are_requested_only_in_the_selected_namespaces(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    for namespace in ("team-a", "team-b", "other"):
        kube.add("namespaces", {"metadata": {"name": namespace}})
        kube.add("pods", pod("web", namespace))
    start_operator(kinds=frozenset({"Pod", "Namespace"}), namespaces=SELECTED)
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    kube.add("pods", pod("late", "other"))
    kube.add("pods", pod("late", "team-b"))
    platform.wait_for(lambda: ("team-b", "late") in pod_names(platform))

    assert pod_names(platform) == {("team-a", "web"), ("team-b", "web"), ("team-b", "late")}
    assert platform.names("Namespace") == {"team-a", "team-b"}
    pod_paths = {path for path in watched_paths(kube) if path.endswith("/pods")}
    assert pod_paths == {"/api/v1/namespaces/team-a/pods", "/api/v1/namespaces/team-b/pods"}
    # Namespaces are cluster-scoped: listed cluster-wide, then filtered in the operator.
    assert "/api/v1/namespaces" in watched_paths(kube)
    assert "other" not in repr([r.body for r in platform.received])


def test_a_relist_in_one_namespace_repairs_it_without_touching_the_others(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    kube.add("pods", pod("doomed", "team-a"))
    kube.add("pods", pod("kept", "team-b"))
    operator = start_operator(kinds=frozenset({"Pod"}), namespaces=SELECTED)
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    with kube.watches_paused():
        kube.delete("pods", "doomed", namespace="team-a")
        kube.compact()
    watchers = [w for w in operator.watchers if w.kind == "Pod"]
    platform.wait_for(lambda: all(w.relists >= 2 for w in watchers))
    platform.wait_for(lambda: pod_names(platform) == {("team-b", "kept")})
    deleted = [e for b in platform.bodies("/events") for e in b["events"] if e["type"] == "deleted"]
    assert [(e["namespace"], e["name"]) for e in deleted] == [("team-a", "doomed")]


def test_excluded_namespaces_get_no_watcher_and_the_operator_still_gets_ready(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    operator = start_operator(
        kinds=frozenset({"Pod"}), namespaces=SELECTED, exclude_namespaces=SELECTED
    )
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    assert operator.watchers == []
    assert platform.bodies("/snapshot")[0]["pods"] == []
    assert not [path for path in watched_paths(kube) if path.endswith("/pods")]
