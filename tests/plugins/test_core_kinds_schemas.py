"""The record schemas accept what the upstream Go operator sends and refuse broken records."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from obsyk_core.kinds import KindRegistry
from obsyk_core.wire import BodyError, parse_snapshot
from obsyk_plugins.core_kinds.testing.samples import SAMPLE_KINDS, sample_object, synthetic_cluster

# Records as upstream's Go structs marshal them (encoding/json, the tags of
# internal/transport/types.go): omitempty fields absent when empty, the others
# present even when zero, nil slices without omitempty as null.
UPSTREAM_RECORDS: dict[str, dict[str, Any]] = {
    "Namespace": {
        "uid": "ns-1",
        "name": "default",
        "phase": "Active",
        "k8s_created_at": "2024-01-15T10:30:00Z",
    },
    "Pod": {
        "uid": "pod-1",
        "name": "web-0",
        "namespace": "default",
        "labels": {"app": "web"},
        "node_name": "node-a",
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containers": [
            {
                "name": "web",
                "image": "nginx:1.25",
                "ready": True,
                "restart_count": 0,
                "resources": {},
                "ports": [{"container_port": 80, "protocol": "TCP"}],
                "volume_mounts": [{"name": "html", "mount_path": "/usr/share", "read_only": False}],
                "env_var_names": ["MODE"],
                "security_context": {"run_as_root": True, "capabilities": ["NET_ADMIN"]},
            },
            # Upstream before 0.3 sent only name and image.
            {"name": "sidecar", "image": "busybox"},
        ],
        "volumes": [{"name": "html", "type": "emptyDir"}],
        "k8s_created_at": "2024-01-15T10:30:00Z",
    },
    "Service": {
        "uid": "svc-1",
        "name": "web",
        "namespace": "default",
        "service_type": "ClusterIP",
        "cluster_ip": "10.96.0.10",
        "ports": [
            {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "8080"},
            {"protocol": "UDP", "port": 53, "targetPort": "dns"},
        ],
        "selector": {"app": "web"},
    },
    "Node": {"uid": "node-1", "name": "node-a", "status": "NotReady", "cpu_capacity": "4"},
    "Deployment": {
        "uid": "d-1",
        "name": "web",
        "namespace": "default",
        "replicas": 3,
        "ready_replicas": 0,
        "available_replicas": 0,
        "updated_replicas": 0,
    },
    "StatefulSet": {
        "uid": "s-1",
        "name": "db",
        "namespace": "default",
        "replicas": 1,
        "ready_replicas": 1,
        "current_replicas": 1,
    },
    "DaemonSet": {
        "uid": "ds-1",
        "name": "agent",
        "namespace": "kube-system",
        "desired_number_scheduled": 3,
        "current_number_scheduled": 3,
        "number_ready": 3,
        "number_available": 3,
    },
    "Job": {
        "uid": "j-1",
        "name": "backup",
        "namespace": "default",
        "completions": 1,
        "parallelism": 1,
        "succeeded": 0,
        "failed": 0,
        "active": 1,
        # Go's time.Time marshals RFC 3339 with nanoseconds when it has them.
        "start_time": "2024-01-15T10:30:00.123456789Z",
    },
    "CronJob": {
        "uid": "cj-1",
        "name": "backup",
        "namespace": "default",
        "schedule": "*/5 * * * *",
        "suspend": False,
        "active_jobs": 0,
    },
    "Ingress": {
        "uid": "i-1",
        "name": "web",
        "namespace": "default",
        "rules": [{"host": "a.example", "paths": [{"path": "/", "service_port": 80}]}],
    },
    "NetworkPolicy": {
        "uid": "np-1",
        "name": "deny",
        "namespace": "default",
        "policy_types": ["Ingress"],
        "ingress_rules": 0,
        "egress_rules": 0,
    },
    "ConfigMap": {
        "uid": "cm-1",
        "name": "cfg",
        "namespace": "default",
        "data_keys": ["a"],
        "immutable": False,
    },
    "Secret": {
        "uid": "sec-1",
        "name": "tls",
        "namespace": "default",
        "type": "kubernetes.io/tls",
        "data_keys": ["tls.crt", "tls.key"],
        "immutable": True,
    },
    "PersistentVolumeClaim": {
        "uid": "pvc-1",
        "name": "data",
        "namespace": "default",
        "phase": "Pending",
    },
    "ServiceAccount": {"uid": "sa-1", "name": "default", "namespace": "default"},
    "Role": {
        "uid": "r-1",
        "name": "empty",
        "namespace": "default",
        "is_cluster": False,
        "rule_count": 0,
        "resources": None,  # a nil Go slice without omitempty
    },
    "ClusterRole": {
        "uid": "cr-1",
        "name": "view",
        "is_cluster": True,
        "rule_count": 2,
        "resources": ["pods"],
    },
    "RoleBinding": {
        "uid": "rb-1",
        "name": "bind",
        "namespace": "default",
        "is_cluster": False,
        "role_ref": {"kind": "Role", "name": "empty"},
    },
    "ClusterRoleBinding": {
        "uid": "crb-1",
        "name": "bind",
        "is_cluster": True,
        "role_ref": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "Group", "name": "system:authenticated"}],
    },
    "Event": {
        "uid": "e-1",
        "name": "web-0.17b",
        "namespace": "default",
        "type": "Normal",
        "reason": "Pulled",
        "message": "",
        "involved_object": {"kind": "Pod", "name": "web-0"},
        "source": {},
        "count": 1,
        "k8s_created_at": "2024-01-15T10:30:00Z",
    },
}


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
def test_upstream_shaped_records_validate(core_registry: KindRegistry, kind: str) -> None:
    assert core_registry.by_kind(kind).validate(UPSTREAM_RECORDS[kind]) is None


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
def test_our_own_extracted_samples_validate(core_registry: KindRegistry, kind: str) -> None:
    assert (
        core_registry.by_kind(kind).validate(
            core_registry.by_kind(kind).extract(sample_object(kind))
        )
        is None
    )


def test_every_record_of_a_synthetic_cluster_validates(core_registry: KindRegistry) -> None:
    seen = set()
    for kind, raw in synthetic_cluster(400, seed=3):
        record = core_registry.by_kind(kind).extract(raw)
        assert core_registry.by_kind(kind).validate(record) is None, (kind, record)
        seen.add(kind)
    assert seen == set(SAMPLE_KINDS)


def test_unknown_fields_are_tolerated_at_every_level(core_registry: KindRegistry) -> None:
    pod = copy.deepcopy(UPSTREAM_RECORDS["Pod"])
    pod["owner_kind"] = "ReplicaSet"
    pod["containers"][0]["gpu_request"] = "1"
    pod["containers"][0]["resources"]["ephemeral_storage_request"] = "1Gi"
    pod["containers"][0]["security_context"]["seccomp_profile"] = "RuntimeDefault"
    pod["conditions"][0]["reason"] = "PodCompleted"
    pod["volumes"][0]["size_limit"] = "1Gi"
    assert core_registry.by_kind("Pod").validate(pod) is None
    binding = copy.deepcopy(UPSTREAM_RECORDS["ClusterRoleBinding"])
    binding["role_ref"]["api_group"] = "rbac.authorization.k8s.io"
    binding["subjects"][0]["api_group"] = "rbac.authorization.k8s.io"
    assert core_registry.by_kind("ClusterRoleBinding").validate(binding) is None


def test_optional_fields_may_be_null_as_go_sends_nil(core_registry: KindRegistry) -> None:
    record = dict(UPSTREAM_RECORDS["Deployment"], labels=None, selector=None, image=None)
    assert core_registry.by_kind("Deployment").validate(record) is None


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
@pytest.mark.parametrize("field", ["uid", "name"])
def test_uid_and_name_are_required_non_empty_strings(
    core_registry: KindRegistry, kind: str, field: str
) -> None:
    schema = core_registry.by_kind(kind)
    missing = {k: v for k, v in UPSTREAM_RECORDS[kind].items() if k != field}
    assert schema.validate(missing) == {field: ["Missing data for required field."]}
    for bad in ("", None, 42):
        errors = schema.validate(dict(UPSTREAM_RECORDS[kind], **{field: bad}))
        assert errors is not None and field in errors, bad


@pytest.mark.parametrize(
    ("kind", "patch", "path"),
    [
        ("Deployment", {"replicas": "3"}, ("replicas",)),
        ("Deployment", {"replicas": 2.5}, ("replicas",)),
        ("Deployment", {"replicas": True}, ("replicas",)),
        ("Deployment", {"labels": {"app": 1}}, ("labels", "app", "value")),
        ("Deployment", {"labels": ["app=web"]}, ("labels",)),
        ("Namespace", {"phase": 1}, ("phase",)),
        ("ConfigMap", {"immutable": "yes"}, ("immutable",)),
        ("ConfigMap", {"immutable": 1}, ("immutable",)),
        ("ConfigMap", {"data_keys": "a,b"}, ("data_keys",)),
        ("Secret", {"data_hashes": {"password": 7}}, ("data_hashes", "password", "value")),
        ("Pod", {"containers": {"name": "web"}}, ("containers",)),
        ("Pod", {"containers": [{"name": "web", "ready": "yes"}]}, ("containers", 0, "ready")),
        (
            "Pod",
            {"containers": [{"name": "web", "ports": [{"container_port": "80"}]}]},
            ("containers", 0, "ports", 0, "container_port"),
        ),
        ("Service", {"ports": [{"port": 80, "targetPort": 8.5}]}, ("ports", 0, "targetPort")),
        ("Event", {"involved_object": "Pod/web-0"}, ("involved_object",)),
        ("Event", {"count": "1"}, ("count",)),
        ("ClusterRoleBinding", {"is_cluster": "true"}, ("is_cluster",)),
    ],
)
def test_wrongly_typed_fields_are_rejected_at_their_path(
    core_registry: KindRegistry, kind: str, patch: dict[str, Any], path: tuple[Any, ...]
) -> None:
    errors: Any = core_registry.by_kind(kind).validate(dict(UPSTREAM_RECORDS[kind], **patch))
    assert errors is not None
    for step in path:
        errors = errors[step]
    assert errors and all(isinstance(message, str) for message in errors)


def test_service_target_port_may_be_a_number_too(core_registry: KindRegistry) -> None:
    record = dict(
        UPSTREAM_RECORDS["Service"], ports=[{"protocol": "TCP", "port": 80, "targetPort": 8080}]
    )
    assert core_registry.by_kind("Service").validate(record) is None


def test_an_upstream_snapshot_of_every_kind_parses(core_registry: KindRegistry) -> None:
    body: dict[str, Any] = {
        "cluster_uid": "kube-system-uid",
        "cluster_name": "prod",
        "agent_version": "dev",
    }
    for kind in core_registry:
        body[kind.snapshot_key] = [
            UPSTREAM_RECORDS[kind.kind],
            kind.extract(sample_object(kind.kind)),
        ]
    snapshot = parse_snapshot(body, core_registry)
    assert set(snapshot.resources) == set(SAMPLE_KINDS)
    assert all(len(items) == 2 for items in snapshot.resources.values())
    assert snapshot.resources["Pod"][1].namespace == "payments"
    assert snapshot.resources["Secret"][1].labels == {"app": "payments-api"}


def test_a_snapshot_with_a_broken_record_names_its_path(core_registry: KindRegistry) -> None:
    body = {"cluster_uid": "c", "pods": [UPSTREAM_RECORDS["Pod"], {"name": "no-uid"}]}
    with pytest.raises(BodyError) as caught:
        parse_snapshot(body, core_registry)
    assert caught.value.errors == {"pods.1.uid": ["Missing data for required field."]}
