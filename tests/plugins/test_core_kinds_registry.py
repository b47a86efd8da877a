"""The plugin declares the 20 kinds of CONTRACT.md section 4, once each, under the right APIs."""

from __future__ import annotations

import types

import pytest

import obsyk_plugins.core_kinds as core_kinds
from obsyk_core.kinds import CATEGORIES, Column, DuplicateKindError, KindRegistry, ResourceKind
from obsyk_core.plugins import build_plugin_manager, hookimpl
from obsyk_plugins.core_kinds.pods import POD

# (kind, api_version, plural, namespaced, snapshot key): CONTRACT.md sections 2 and 4.
EXPECTED = [
    ("Namespace", "v1", "namespaces", False, "namespaces"),
    ("Pod", "v1", "pods", True, "pods"),
    ("Service", "v1", "services", True, "services"),
    ("Node", "v1", "nodes", False, "nodes"),
    ("Deployment", "apps/v1", "deployments", True, "deployments"),
    ("StatefulSet", "apps/v1", "statefulsets", True, "statefulsets"),
    ("DaemonSet", "apps/v1", "daemonsets", True, "daemonsets"),
    ("Job", "batch/v1", "jobs", True, "jobs"),
    ("CronJob", "batch/v1", "cronjobs", True, "cronjobs"),
    ("Ingress", "networking.k8s.io/v1", "ingresses", True, "ingresses"),
    ("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", True, "network_policies"),
    ("ConfigMap", "v1", "configmaps", True, "configmaps"),
    ("Secret", "v1", "secrets", True, "secrets"),
    ("PersistentVolumeClaim", "v1", "persistentvolumeclaims", True, "pvcs"),
    ("ServiceAccount", "v1", "serviceaccounts", True, "service_accounts"),
    ("Role", "rbac.authorization.k8s.io/v1", "roles", True, "roles"),
    ("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", False, "cluster_roles"),
    ("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings", True, "role_bindings"),
    (
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io/v1",
        "clusterrolebindings",
        False,
        "cluster_role_bindings",
    ),
    ("Event", "v1", "events", True, "events"),
]


def test_registry_holds_the_twenty_contract_kinds(core_registry: KindRegistry) -> None:
    assert len(core_registry) == 20
    actual = [
        (k.kind, k.api_version, k.plural, k.namespaced, k.snapshot_key) for k in core_registry
    ]
    assert sorted(actual) == sorted(EXPECTED)
    assert len(core_registry.snapshot_keys) == 20


def test_every_kind_is_attributed_to_the_plugin_and_has_display_hints(
    core_registry: KindRegistry,
) -> None:
    for kind in core_registry:
        assert kind.plugin == "obsyk_plugins.core_kinds"
        assert kind.display.category in CATEGORIES
        first = kind.display.columns[0]
        assert isinstance(first, Column) and first.field in {"name", "last_timestamp"}


def test_the_plugin_loads_through_its_entry_point() -> None:
    plugins = build_plugin_manager(disabled=[])
    assert "core_kinds" in plugins.plugin_names()
    assert plugins.kinds.by_snapshot_key("pvcs").kind == "PersistentVolumeClaim"
    assert plugins.kinds.by_kind("Pod").plugin == "core_kinds"


def test_a_blocked_core_plugin_registers_nothing() -> None:
    plugins = build_plugin_manager(disabled=["core_kinds"])
    assert "Pod" not in plugins.kinds


def test_a_second_plugin_declaring_pod_fails_naming_both_plugins() -> None:
    rival = types.ModuleType("obsyk_rival_pods")

    @hookimpl
    def obsyk_register_kinds(registry: KindRegistry) -> None:
        registry.register(POD)

    rival.obsyk_register_kinds = obsyk_register_kinds  # type: ignore[attr-defined]
    plugins = build_plugin_manager(
        plugins=[core_kinds, rival], load_entry_points=False, disabled=[]
    )
    with pytest.raises(DuplicateKindError) as caught:
        _ = plugins.kinds
    message = str(caught.value)
    assert "'Pod'" in message
    assert "obsyk_rival_pods" in message
    assert "obsyk_plugins.core_kinds" in message


def test_a_rival_snapshot_key_is_refused_too() -> None:
    import dataclasses

    rival = types.ModuleType("obsyk_rival_key")

    @hookimpl
    def obsyk_register_kinds(registry: KindRegistry) -> None:
        registry.register(dataclasses.replace(POD, kind="CustomPod"))

    rival.obsyk_register_kinds = obsyk_register_kinds  # type: ignore[attr-defined]
    plugins = build_plugin_manager(
        plugins=[core_kinds, rival], load_entry_points=False, disabled=[]
    )
    with pytest.raises(DuplicateKindError, match="snapshot key 'pods'"):
        _ = plugins.kinds


def test_core_kinds_are_resource_kinds_in_snapshot_order() -> None:
    assert all(isinstance(k, ResourceKind) for k in core_kinds.CORE_KINDS)
    assert [k.snapshot_key for k in core_kinds.CORE_KINDS] == [e[4] for e in EXPECTED]
