"""Each extractor turns realistic Kubernetes JSON into the CONTRACT.md section 4 record."""

from __future__ import annotations

from typing import Any

import pytest

from obsyk_core.kinds import KindRegistry
from obsyk_plugins.core_kinds.metadata import filter_annotations, rfc3339_utc
from obsyk_plugins.core_kinds.testing.samples import SAMPLE_KINDS, sample_object

CREATED = "2024-03-04T09:15:27Z"
NODE = "ip-10-0-12-34.eu-west-1.compute.internal"


def extract(registry: KindRegistry, kind: str, raw: dict[str, Any] | None = None) -> dict[str, Any]:
    return registry.by_kind(kind).extract(raw if raw is not None else sample_object(kind))


def test_namespace(core_registry: KindRegistry) -> None:
    assert extract(core_registry, "Namespace") == {
        "uid": "5b0d3c1e-6f55-4c0e-9a3b-1d2a4f7e8c01",
        "name": "payments",
        "labels": {"kubernetes.io/metadata.name": "payments", "team": "payments"},
        "annotations": {"owner": "payments-team@example.com"},
        "k8s_created_at": CREATED,
        "phase": "Active",
    }


def test_pod_top_level_fields(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "Pod")
    assert record["uid"] == "0c6f1d8e-2b7a-4f3e-8d91-5a6b7c8d9e10"
    assert record["name"] == "payments-api-7d9f8b6c5d-x2k4p"
    assert record["namespace"] == "payments"
    # kubectl.kubernetes.io/restartedAt is dropped, the prometheus ones stay.
    assert record["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}
    assert record["node_name"] == NODE
    assert record["service_account"] == "payments-api"
    assert record["phase"] == "Running"
    assert record["qos_class"] == "Burstable"
    assert record["priority_class_name"] == "high-priority"
    assert record["host_ip"] == "10.0.12.34"
    assert record["pod_ip"] == "10.0.45.19"
    assert record["conditions"] == [
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": "True"},
        {"type": "ContainersReady", "status": "True"},
        {"type": "PodScheduled", "status": "True"},
    ]


def test_pod_containers(core_registry: KindRegistry) -> None:
    api, envoy = extract(core_registry, "Pod")["containers"]
    assert api == {
        "name": "api",
        "image": "ghcr.io/example/payments-api:1.42.0",
        "state": "running",
        "ready": True,
        "restart_count": 2,
        "resources": {
            "cpu_request": "250m",
            "cpu_limit": "1",
            "memory_request": "256Mi",
            "memory_limit": "512Mi",
        },
        "ports": [
            {"container_port": 8080, "protocol": "TCP", "name": "http"},
            {"container_port": 9090, "protocol": "TCP", "name": "metrics"},
        ],
        "volume_mounts": [
            {"name": "config", "mount_path": "/etc/payments", "read_only": True},
            {"name": "tmp", "mount_path": "/tmp", "read_only": False},
            {
                "name": "kube-api-access-7xk2p",
                "mount_path": "/var/run/secrets/kubernetes.io/serviceaccount",
                "read_only": True,
            },
        ],
        "env_var_names": ["LOG_LEVEL", "STRIPE_API_KEY", "DB_PASSWORD", "POD_IP"],
        # The pod runs as uid 10001: not root; one capability added.
        "security_context": {"capabilities": ["NET_BIND_SERVICE"]},
    }
    assert envoy["security_context"] == {"privileged": True, "run_as_root": True}
    assert envoy["ports"] == [{"container_port": 15001}]
    assert envoy["resources"] == {"cpu_request": "50m", "memory_request": "64Mi"}


def test_pod_init_containers_and_volumes(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "Pod")
    assert record["init_containers"] == [
        {
            "name": "migrate",
            "image": "ghcr.io/example/payments-api:1.42.0",
            "state": "terminated",
            "reason": "Completed",
            "ready": True,
            "restart_count": 0,
            "resources": {},
            "env_var_names": ["DATABASE_URL"],
        }
    ]
    assert record["volumes"] == [
        {"name": "config", "type": "configMap", "source": "payments-config"},
        {"name": "tls", "type": "secret", "source": "payments-tls"},
        {"name": "data", "type": "pvc", "source": "payments-data"},
        {"name": "tmp", "type": "emptyDir"},
        {"name": "host-logs", "type": "hostPath", "source": "/var/log"},
        {"name": "kube-api-access-7xk2p", "type": "projected"},
        {"name": "scratch", "type": "ephemeral"},
        {"name": "legacy", "type": "unknown"},
    ]


def test_a_pending_pod_without_status_still_has_container_basics(
    core_registry: KindRegistry,
) -> None:
    raw = sample_object("Pod")
    raw["status"] = {"phase": "Pending"}
    del raw["spec"]["securityContext"]
    record = extract(core_registry, "Pod", raw)
    assert record["phase"] == "Pending"
    assert "pod_ip" not in record and "conditions" not in record
    api = record["containers"][0]
    assert api["ready"] is False and api["restart_count"] == 0 and "state" not in api


def test_service(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "Service")
    assert record["service_type"] == "LoadBalancer"
    assert record["cluster_ip"] == "172.20.41.7"
    assert record["selector"] == {"app": "payments-api"}
    # Upstream's camelCase targetPort, as a string whether numeric or named.
    assert record["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "8080"},
        {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "metrics"},
    ]
    # service.beta.kubernetes.io and external-dns.alpha.kubernetes.io are Kubernetes-domain noise.
    assert record["annotations"] == {"prometheus.io/scrape": "true"}


def test_node(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "Node")
    assert record["status"] == "Ready"
    assert record["roles"] == ["worker", "ingress"]
    assert record["kubelet_version"] == "v1.29.0-eks-5e0fdde"
    assert record["container_runtime"] == "containerd://1.7.11"
    assert record["os_image"] == "Amazon Linux 2023.3.20240304"
    assert record["architecture"] == "arm64"
    assert record["cpu_capacity"] == "4"
    assert record["memory_capacity"] == "16110568Ki"
    assert record["pod_capacity"] == "58"
    assert record["annotations"] == {"cluster-autoscaler/scale-down-disabled": "false"}
    assert "namespace" not in record


def test_node_not_ready_and_master_role(core_registry: KindRegistry) -> None:
    raw = sample_object("Node")
    raw["status"]["conditions"][-1]["status"] = "Unknown"
    raw["metadata"]["labels"] = {
        "node-role.kubernetes.io/master": "",
        "node-role.kubernetes.io/control-plane": "",
    }
    record = extract(core_registry, "Node", raw)
    assert record["status"] == "NotReady"
    assert record["roles"] == ["control-plane"]


def test_deployment(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "Deployment")
    assert record["annotations"] == {
        "argocd.argoproj.io/tracking-id": "payments:apps/Deployment:payments/payments-api"
    }
    for key, value in {
        "replicas": 3,
        "ready_replicas": 2,
        "available_replicas": 2,
        "updated_replicas": 3,
        "strategy": "RollingUpdate",
        "selector": {"app": "payments-api"},
        "image": "ghcr.io/example/payments-api:1.42.0",
    }.items():
        assert record[key] == value, key


def test_deployment_defaults_when_status_is_not_written_yet(core_registry: KindRegistry) -> None:
    raw = sample_object("Deployment")
    del raw["spec"]["replicas"]
    raw["status"] = {}
    record = extract(core_registry, "Deployment", raw)
    assert (record["replicas"], record["ready_replicas"], record["available_replicas"]) == (1, 0, 0)


def test_statefulset(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "StatefulSet")
    assert {k: record[k] for k in ("replicas", "ready_replicas", "current_replicas")} == {
        "replicas": 3,
        "ready_replicas": 3,
        "current_replicas": 3,
    }
    assert record["update_strategy"] == "RollingUpdate"
    assert record["service_name"] == "postgres-headless"
    assert record["image"] == "docker.io/library/postgres:16.2"


def test_daemonset(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "DaemonSet")
    assert record["desired_number_scheduled"] == 6
    assert record["current_number_scheduled"] == 6
    assert record["number_ready"] == 5
    assert record["number_available"] == 5
    assert record["node_selector"] == {"kubernetes.io/os": "linux"}
    assert record["selector"] == {"app.kubernetes.io/name": "node-exporter"}
    assert record["image"] == "quay.io/prometheus/node-exporter:v1.7.0"


def test_job(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "Job")
    assert record["completions"] == 1 and record["parallelism"] == 1
    assert (record["succeeded"], record["failed"], record["active"]) == (1, 0, 0)
    assert record["start_time"] == "2024-03-05T02:00:03Z"
    assert record["completion_time"] == "2024-03-05T02:04:41Z"
    assert record["owner_ref"] == "nightly-report"


def test_cronjob(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "CronJob")
    assert record["schedule"] == "0 2 * * *"
    assert record["suspend"] is False
    assert record["concurrency_policy"] == "Forbid"
    assert record["last_schedule_time"] == "2024-03-05T02:00:00Z"
    assert record["active_jobs"] == 1


def test_ingress(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "Ingress")
    assert record["ingress_class_name"] == "nginx"
    assert record["rules"] == [
        {
            "host": "pay.example.com",
            "paths": [
                {
                    "path": "/",
                    "path_type": "Prefix",
                    "service_name": "payments-api",
                    "service_port": 80,
                },
                # A named backend port has no number to send.
                {"path": "/metrics", "path_type": "Exact", "service_name": "payments-api"},
            ],
        }
    ]
    assert record["tls"] == [{"hosts": ["pay.example.com"], "secret_name": "payments-tls"}]
    assert record["load_balancer_ips"] == ["203.0.113.10", "lb.example.net"]
    assert record["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}


def test_network_policy(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "NetworkPolicy")
    assert record["pod_selector"] == {"app": "payments-api"}
    assert record["policy_types"] == ["Ingress", "Egress"]
    assert (record["ingress_rules"], record["egress_rules"]) == (2, 1)


def test_configmap(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "ConfigMap")
    assert record["data_keys"] == ["DB_HOST", "WEBHOOK_SECRET", "app.yaml"]
    assert record["binary_keys"] == ["logo.png"]
    assert record["immutable"] is False
    assert record["annotations"] == {"reloader.stakater.com/match": "true"}
    assert "data_hashes" not in record


def test_secret(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "Secret")
    assert record == {
        "uid": "0d1e2f3a-4b5c-4d6e-9f7a-8b9c0d1e2f3a",
        "name": "payments-db",
        "namespace": "payments",
        "labels": {"app": "payments-api"},
        "k8s_created_at": CREATED,
        "type": "Opaque",
        "data_keys": ["password", "url", "username"],
        "immutable": False,
    }


def test_pvc(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "PersistentVolumeClaim")
    assert record["storage_class_name"] == "gp3"
    assert record["access_modes"] == ["ReadWriteOnce"]
    assert record["storage_request"] == "20Gi"
    assert record["volume_name"] == "pvc-1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
    assert record["phase"] == "Bound"
    assert record["volume_mode"] == "Filesystem"
    assert "annotations" not in record  # only pv.kubernetes.io / volume.kubernetes.io ones


def test_service_account(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "ServiceAccount")
    assert record["secrets"] == ["payments-api-token-x7k2p"]
    assert record["image_pull_secrets"] == ["ghcr-pull"]
    assert record["automount_service_account_token"] is False


def test_roles_are_summarised(core_registry: KindRegistry) -> None:
    role = extract(core_registry, "Role")
    cluster_role = extract(core_registry, "ClusterRole")
    resources = ["configmaps", "deployments", "pods", "secrets", "services"]
    assert (role["is_cluster"], role["rule_count"], role["resources"]) == (False, 3, resources)
    assert role["namespace"] == "payments"
    assert (cluster_role["is_cluster"], cluster_role["rule_count"]) == (True, 4)
    assert cluster_role["resources"] == resources
    assert "namespace" not in cluster_role
    assert "annotations" not in cluster_role  # rbac.authorization.kubernetes.io/autoupdate


def test_bindings(core_registry: KindRegistry) -> None:
    binding = extract(core_registry, "RoleBinding")
    assert binding["is_cluster"] is False
    assert binding["role_ref"] == {"kind": "Role", "name": "payments-reader"}
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "payments-api", "namespace": "payments"},
        {"kind": "Group", "name": "payments-oncall"},
        {"kind": "User", "name": "alice@example.com"},
    ]
    cluster = extract(core_registry, "ClusterRoleBinding")
    assert cluster["is_cluster"] is True
    assert cluster["role_ref"] == {"kind": "ClusterRole", "name": "obsyk-reader"}
    assert "namespace" not in cluster


def test_event(core_registry: KindRegistry) -> None:
    assert extract(core_registry, "Event") == {
        "uid": "8f9a0b1c-2d3e-4f4a-9b5c-6d7e8f9a0b1c",
        "name": "payments-api-7d9f8b6c5d-x2k4p.17b9c3d2e1f0a9b8",
        "namespace": "payments",
        "type": "Warning",
        "reason": "BackOff",
        "message": "Back-off restarting failed container api in pod payments-api-7d9f8b6c5d-x2k4p",
        "involved_object": {
            "kind": "Pod",
            "name": "payments-api-7d9f8b6c5d-x2k4p",
            "namespace": "payments",
            "uid": "0c6f1d8e-2b7a-4f3e-8d91-5a6b7c8d9e10",
        },
        "source": {"component": "kubelet", "host": NODE},
        "first_timestamp": "2024-03-05T08:01:12Z",
        "last_timestamp": "2024-03-05T08:09:47Z",
        "count": 14,
    }


def test_an_events_k8s_io_style_event_falls_back_to_its_new_fields(
    core_registry: KindRegistry,
) -> None:
    raw = sample_object("Event")
    for key in ("firstTimestamp", "lastTimestamp", "count", "source"):
        del raw[key]
    raw["eventTime"] = "2024-03-05T08:01:12.345678Z"
    raw["series"] = {"count": 3, "lastObservedTime": "2024-03-05T08:05:00.000001Z"}
    record = extract(core_registry, "Event", raw)
    assert record["first_timestamp"] == "2024-03-05T08:01:12.345678Z"
    assert record["last_timestamp"] == "2024-03-05T08:05:00.000001Z"
    assert record["count"] == 3
    assert record["source"] == {"component": "kubelet", "host": NODE}


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
def test_empty_optional_fields_are_omitted_not_sent_empty(
    core_registry: KindRegistry, kind: str
) -> None:
    raw = {"metadata": {"uid": "u-1", "name": "bare", "namespace": "default"}}
    record = extract(core_registry, kind, raw)
    assert record["uid"] == "u-1" and record["name"] == "bare"
    for key in ("labels", "annotations", "k8s_created_at"):
        assert key not in record
    for key, value in record.items():
        # Only the contract's non-optional fields may be empty/zero.
        if value in ("", [], {}, None):
            assert key in {"type", "reason", "message", "schedule", "resources", "source"}, key
    assert core_registry.by_kind(kind).validate(record) is None


def test_annotation_filter_drops_the_kubernetes_io_family_only() -> None:
    annotations = {
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "kubernetes.io/change-cause": "kubectl apply",
        "deployment.kubernetes.io/revision": "3",
        "control-plane.alpha.kubernetes.io/leader": "{}",
        "example.com/kubernetes.io": "kept: the domain is example.com",
        "notkubernetes.io/owner": "kept: a different domain",
        "kubernetes.io": "kept: no prefix at all",
        "team": "kept",
    }
    assert filter_annotations(annotations) == {
        "example.com/kubernetes.io": "kept: the domain is example.com",
        "notkubernetes.io/owner": "kept: a different domain",
        "kubernetes.io": "kept: no prefix at all",
        "team": "kept",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-04T09:15:27Z", "2024-03-04T09:15:27Z"),
        ("2024-03-04T11:15:27+02:00", "2024-03-04T09:15:27Z"),
        ("2024-03-04T09:15:27", "2024-03-04T09:15:27Z"),
        ("2024-03-04T09:15:27.123456Z", "2024-03-04T09:15:27.123456Z"),
        ("20240304T091527Z", "2024-03-04T09:15:27Z"),
        ("not a time", None),
        ("fooZ", None),
        ("2024-13-04T09:15:27Z", None),
        ("0001-01-01T00:00:00+01:00", None),
        (None, None),
        ("", None),
    ],
)
def test_timestamps_are_rfc3339_utc_with_z(value: Any, expected: str | None) -> None:
    assert rfc3339_utc(value) == expected


def test_a_malformed_creation_time_is_left_out_not_sent(core_registry: KindRegistry) -> None:
    raw = sample_object("Pod")
    raw["metadata"]["creationTimestamp"] = "fooZ"
    record = extract(core_registry, "Pod", raw)
    assert "k8s_created_at" not in record
    assert record["name"] == "payments-api-7d9f8b6c5d-x2k4p"
    assert core_registry.by_kind("Pod").validate(record) is None


def test_owner_references_extension(core_registry: KindRegistry) -> None:
    record = extract(core_registry, "Pod")
    assert record["owner_references"] == [
        {
            "kind": "ReplicaSet",
            "name": "payments-api-7d9f8b6c5d",
            "uid": "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6",
            "controller": True,
        }
    ]
    assert "owner_references" not in extract(core_registry, "Namespace")
    assert core_registry.by_kind("Pod").validate(record) is None
