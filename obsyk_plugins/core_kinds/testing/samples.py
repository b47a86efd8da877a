"""Realistic raw Kubernetes objects for tests, benchmarks and ``obsyk serve --demo``.

:func:`sample_object` returns one object per core kind, shaped as
``kubectl get -o json`` prints it: managedFields, status, env values, a
Secret's data, a ConfigMap whose ``last-applied-configuration`` annotation
embeds its values.  Those are exactly the things extraction must drop, so the
samples are also the fixtures of the security tests.

:func:`synthetic_cluster` yields a whole cluster's worth of objects with the
mix of a real one (mostly pods and events), deterministic for a seed.  It is
built by parsing a pre-serialised template per kind (orjson, C speed) and
rewriting identity fields, so streaming 100k objects takes about two seconds
and every object is independent (mutating one never changes another).
Collecting all of them in a list costs more: Python's cyclic garbage
collector then walks every object already kept; consume the generator as a
stream, or wrap the collection in ``gc.disable()``/``gc.enable()`` (or call
``gc.freeze()`` after it) in benchmarks.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

_CREATED = "2024-03-04T09:15:27Z"
_NODE = "ip-10-0-12-34.eu-west-1.compute.internal"


def _managed_fields(manager: str, operation: str = "Update") -> list[dict[str, Any]]:
    """What the API server attaches to every object: large, useless to an inventory, never sent."""
    return [
        {
            "manager": manager,
            "operation": operation,
            "apiVersion": "v1",
            "time": _CREATED,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}, "f:annotations": {".": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {}}}},
            },
        },
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "v1",
            "time": _CREATED,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:status": {"f:conditions": {}, "f:phase": {}}},
            "subresource": "status",
        },
    ]


def _meta(name: str, namespace: str | None, uid: str, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update(
        uid=uid,
        resourceVersion="48213977",
        creationTimestamp=_CREATED,
        managedFields=_managed_fields("kubectl-client-side-apply"),
    )
    meta.update(extra)
    return meta


def _namespace() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _meta(
            "payments",
            None,
            "5b0d3c1e-6f55-4c0e-9a3b-1d2a4f7e8c01",
            labels={"kubernetes.io/metadata.name": "payments", "team": "payments"},
            annotations={"owner": "payments-team@example.com"},
        ),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _container_status(name: str, image: str, restarts: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imageID": f"{image.split(':')[0]}@sha256:" + "ab12" * 16,
        "containerID": "containerd://" + "9f3c" * 16,
        "ready": True,
        "started": True,
        "restartCount": restarts,
        "lastState": {},
        "state": {"running": {"startedAt": "2024-03-04T09:15:40Z"}},
    }


def _pod() -> dict[str, Any]:
    app_image = "ghcr.io/example/payments-api:1.42.0"
    proxy_image = "docker.io/envoyproxy/envoy:v1.29.1"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(
            "payments-api-7d9f8b6c5d-x2k4p",
            "payments",
            "0c6f1d8e-2b7a-4f3e-8d91-5a6b7c8d9e10",
            generateName="payments-api-7d9f8b6c5d-",
            labels={
                "app.kubernetes.io/name": "payments-api",
                "app.kubernetes.io/version": "1.42.0",
                "pod-template-hash": "7d9f8b6c5d",
            },
            annotations={
                "kubectl.kubernetes.io/restartedAt": "2024-03-04T09:10:00Z",
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "9090",
            },
            ownerReferences=[
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "payments-api-7d9f8b6c5d",
                    "uid": "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        ),
        "spec": {
            "serviceAccountName": "payments-api",
            "serviceAccount": "payments-api",
            "nodeName": _NODE,
            "priorityClassName": "high-priority",
            "priority": 1000000,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001},
            "initContainers": [
                {
                    "name": "migrate",
                    "image": app_image,
                    "command": ["/app/migrate", "--up"],
                    "env": [
                        {
                            "name": "DATABASE_URL",
                            "value": "postgres://payments:pg-pa55-init@db:5432/payments",
                        }
                    ],
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "imagePullPolicy": "IfNotPresent",
                }
            ],
            "containers": [
                {
                    "name": "api",
                    "image": app_image,
                    "args": ["serve", "--port=8080"],
                    "ports": [
                        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                    ],
                    "env": [
                        {"name": "LOG_LEVEL", "value": "info"},
                        {"name": "STRIPE_API_KEY", "value": "sk_live_51HxEnvValueMustNeverLeave"},
                        {
                            "name": "DB_PASSWORD",
                            "valueFrom": {
                                "secretKeyRef": {"name": "payments-db", "key": "password"}
                            },
                        },
                        {
                            "name": "POD_IP",
                            "valueFrom": {
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}
                            },
                        },
                    ],
                    "envFrom": [{"configMapRef": {"name": "payments-config"}}],
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "256Mi"},
                        "limits": {"cpu": "1", "memory": "512Mi"},
                    },
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/etc/payments", "readOnly": True},
                        {"name": "tmp", "mountPath": "/tmp"},
                        {
                            "name": "kube-api-access-7xk2p",
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                            "readOnly": True,
                        },
                    ],
                    "livenessProbe": {
                        "httpGet": {"path": "/healthz", "port": 8080},
                        "periodSeconds": 10,
                    },
                    "readinessProbe": {
                        "httpGet": {"path": "/readyz", "port": 8080},
                        "periodSeconds": 5,
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                    },
                    "imagePullPolicy": "IfNotPresent",
                },
                {
                    "name": "envoy",
                    "image": proxy_image,
                    "ports": [{"containerPort": 15001}],
                    "env": [{"name": "ENVOY_ADMIN_TOKEN", "value": "envoy-admin-t0ken-value"}],
                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                    "securityContext": {"runAsUser": 0, "privileged": True},
                    "imagePullPolicy": "IfNotPresent",
                },
            ],
            "volumes": [
                {"name": "config", "configMap": {"name": "payments-config", "defaultMode": 420}},
                {"name": "tls", "secret": {"secretName": "payments-tls", "defaultMode": 420}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "payments-data"}},
                {"name": "tmp", "emptyDir": {}},
                {"name": "host-logs", "hostPath": {"path": "/var/log", "type": "Directory"}},
                {
                    "name": "kube-api-access-7xk2p",
                    "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
                },
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                {"name": "legacy", "gitRepo": {"repository": "https://example.com/repo.git"}},
            ],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
            ],
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": _CREATED},
                {"type": "Ready", "status": "True", "lastTransitionTime": _CREATED},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": _CREATED},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": _CREATED},
            ],
            "hostIP": "10.0.12.34",
            "podIP": "10.0.45.19",
            "podIPs": [{"ip": "10.0.45.19"}],
            "startTime": _CREATED,
            "qosClass": "Burstable",
            "initContainerStatuses": [
                {
                    "name": "migrate",
                    "image": app_image,
                    "ready": True,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                }
            ],
            "containerStatuses": [
                _container_status("api", app_image, restarts=2),
                _container_status("envoy", proxy_image),
            ],
        },
    }


def _pod_template(image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "payments-api"}},
        "spec": {
            "containers": [
                {
                    "name": "api",
                    "image": image,
                    "env": [{"name": "STRIPE_API_KEY", "value": "sk_live_template_value"}],
                    "resources": {"requests": {"cpu": "250m"}},
                },
                {"name": "envoy", "image": "docker.io/envoyproxy/envoy:v1.29.1"},
            ],
            "nodeSelector": {"kubernetes.io/os": "linux"},
        },
    }


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(
            "payments-api",
            "payments",
            "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            generation=7,
            labels={"app": "payments-api", "team": "payments"},
            annotations={
                "deployment.kubernetes.io/revision": "7",
                "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Deployment"}',
                "argocd.argoproj.io/tracking-id": "payments:apps/Deployment:payments/payments-api",
            },
        ),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "payments-api"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": _pod_template("ghcr.io/example/payments-api:1.42.0"),
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {
            "observedGeneration": 7,
            "replicas": 3,
            "updatedReplicas": 3,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "unavailableReplicas": 1,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        },
    }


def _statefulset() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(
            "postgres",
            "payments",
            "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
            labels={"app": "postgres"},
        ),
        "spec": {
            "replicas": 3,
            "serviceName": "postgres-headless",
            "selector": {"matchLabels": {"app": "postgres"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "podManagementPolicy": "OrderedReady",
            "template": _pod_template("docker.io/library/postgres:16.2"),
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "50Gi"}},
                    },
                }
            ],
        },
        "status": {
            "replicas": 3,
            "readyReplicas": 3,
            "currentReplicas": 3,
            "updatedReplicas": 3,
            "currentRevision": "postgres-6b7c8d9e",
            "updateRevision": "postgres-6b7c8d9e",
            "availableReplicas": 3,
        },
    }


def _daemonset() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _meta(
            "node-exporter",
            "monitoring",
            "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f",
            labels={"app.kubernetes.io/name": "node-exporter"},
            annotations={"deprecated.daemonset.template.generation": "4"},
        ),
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "node-exporter"}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": _pod_template("quay.io/prometheus/node-exporter:v1.7.0"),
        },
        "status": {
            "desiredNumberScheduled": 6,
            "currentNumberScheduled": 6,
            "numberReady": 5,
            "numberAvailable": 5,
            "numberMisscheduled": 0,
            "updatedNumberScheduled": 6,
            "observedGeneration": 4,
        },
    }


def _job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(
            "nightly-report-28491520",
            "payments",
            "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a",
            labels={"job-name": "nightly-report-28491520"},
            ownerReferences=[
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": "nightly-report",
                    "uid": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
                    "controller": True,
                }
            ],
        ),
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "backoffLimit": 6,
            "template": _pod_template("ghcr.io/example/reports:2.3.1"),
        },
        "status": {
            "startTime": "2024-03-05T02:00:03Z",
            "completionTime": "2024-03-05T02:04:41Z",
            "succeeded": 1,
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }


def _cronjob() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta(
            "nightly-report",
            "payments",
            "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
            labels={"app": "reports"},
        ),
        "spec": {
            "schedule": "0 2 * * *",
            "concurrencyPolicy": "Forbid",
            "suspend": False,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"template": _pod_template("ghcr.io/example/reports:2.3.1")}},
        },
        "status": {
            "lastScheduleTime": "2024-03-05T02:00:00Z",
            "lastSuccessfulTime": "2024-03-05T02:04:41Z",
            "active": [
                {
                    "kind": "Job",
                    "namespace": "payments",
                    "name": "nightly-report-28491520",
                    "uid": "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a",
                }
            ],
        },
    }


def _service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(
            "payments-api",
            "payments",
            "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b9c",
            labels={"app": "payments-api"},
            annotations={
                "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                "external-dns.alpha.kubernetes.io/hostname": "pay.example.com",
                "prometheus.io/scrape": "true",
            },
        ),
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "172.20.41.7",
            "clusterIPs": ["172.20.41.7"],
            "selector": {"app": "payments-api"},
            "ports": [
                {
                    "name": "http",
                    "protocol": "TCP",
                    "port": 80,
                    "targetPort": 8080,
                    "nodePort": 31080,
                },
                {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "metrics"},
            ],
            "sessionAffinity": "None",
            "externalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {"ingress": [{"hostname": "a1b2c3.elb.amazonaws.com"}]}},
    }


def _ingress() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(
            "payments",
            "payments",
            "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
            annotations={
                "cert-manager.io/cluster-issuer": "letsencrypt",
                "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
            },
        ),
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["pay.example.com"], "secretName": "payments-tls"}],
            "rules": [
                {
                    "host": "pay.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {"name": "payments-api", "port": {"number": 80}}
                                },
                            },
                            {
                                "path": "/metrics",
                                "pathType": "Exact",
                                "backend": {
                                    "service": {"name": "payments-api", "port": {"name": "metrics"}}
                                },
                            },
                        ]
                    },
                }
            ],
        },
        "status": {
            "loadBalancer": {"ingress": [{"ip": "203.0.113.10"}, {"hostname": "lb.example.net"}]}
        },
    }


def _network_policy() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(
            "payments-api-ingress", "payments", "8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9c0d1e"
        ),
        "spec": {
            "podSelector": {"matchLabels": {"app": "payments-api"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}]},
                {"from": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}]},
            ],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}]}],
        },
    }


def _configmap() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(
            "payments-config",
            "payments",
            "9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
            labels={"app": "payments-api"},
            annotations={
                "kubectl.kubernetes.io/last-applied-configuration": (
                    '{"apiVersion":"v1","data":{"DB_HOST":"db.internal",'
                    '"WEBHOOK_SECRET":"whsec-configmap-value-9f8e7d"},"kind":"ConfigMap"}\n'
                ),
                "reloader.stakater.com/match": "true",
            },
        ),
        "data": {
            "DB_HOST": "db.internal",
            "WEBHOOK_SECRET": "whsec-configmap-value-9f8e7d",
            "app.yaml": "server:\n  port: 8080\nfeature_flags:\n  new_checkout: true\n",
        },
        "binaryData": {
            "logo.png": (
                "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
            )
        },
    }


def _secret() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(
            "payments-db",
            "payments",
            "0d1e2f3a-4b5c-4d6e-9f7a-8b9c0d1e2f3a",
            labels={"app": "payments-api"},
            annotations={
                "kubectl.kubernetes.io/last-applied-configuration": (
                    '{"apiVersion":"v1","stringData":{"password":"Pg-Sup3r-S3cret!"},"kind":"Secret"}'
                ),
            },
        ),
        "type": "Opaque",
        "data": {
            # base64 of "Pg-Sup3r-S3cret!", "svc_payments_rw" and a URL embedding both
            "password": "UGctU3VwM3ItUzNjcmV0IQ==",
            "username": "c3ZjX3BheW1lbnRzX3J3",
            "url": ("cG9zdGdyZXM6Ly9zdmNfcGF5bWVudHNfcnc6UGctU3VwM3ItUzNjcmV0IUBkYjo1NDMyL3A="),
        },
    }


def _pvc() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(
            "payments-data",
            "payments",
            "1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b",
            annotations={
                "pv.kubernetes.io/bind-completed": "yes",
                "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
            },
            finalizers=["kubernetes.io/pvc-protection"],
        ),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "20Gi"}},
            "storageClassName": "gp3",
            "volumeMode": "Filesystem",
            "volumeName": "pvc-1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b",
        },
        "status": {
            "phase": "Bound",
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "20Gi"},
        },
    }


def _service_account() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(
            "payments-api",
            "payments",
            "2f3a4b5c-6d7e-4f8a-9b0c-1d2e3f4a5b6c",
            annotations={"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/payments"},
        ),
        "secrets": [{"name": "payments-api-token-x7k2p"}],
        "imagePullSecrets": [{"name": "ghcr-pull"}],
        "automountServiceAccountToken": False,
    }


def _rules() -> list[dict[str, Any]]:
    return [
        {
            "apiGroups": [""],
            "resources": ["pods", "services", "configmaps"],
            "verbs": ["get", "list", "watch"],
        },
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "verbs": ["get"],
            "resourceNames": ["payments-db"],
        },
        {"apiGroups": ["apps"], "resources": ["deployments", "pods"], "verbs": ["get", "patch"]},
    ]


def _role() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta("payments-reader", "payments", "3a4b5c6d-7e8f-4a9b-8c0d-1e2f3a4b5c6d"),
        "rules": _rules(),
    }


def _cluster_role() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(
            "obsyk-reader",
            None,
            "4b5c6d7e-8f9a-4b0c-9d1e-2f3a4b5c6d7e",
            labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"},
            annotations={"rbac.authorization.kubernetes.io/autoupdate": "true"},
        ),
        "rules": [*_rules(), {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}],
    }


def _subjects() -> list[dict[str, Any]]:
    return [
        {"kind": "ServiceAccount", "name": "payments-api", "namespace": "payments"},
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "payments-oncall"},
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice@example.com"},
    ]


def _role_binding() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta("payments-reader", "payments", "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "payments-reader",
        },
        "subjects": _subjects(),
    }


def _cluster_role_binding() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta("obsyk-reader", None, "6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f9a"),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "obsyk-reader",
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": "obsyk-operator", "namespace": "obsyk-system"}
        ],
    }


def _node() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _meta(
            _NODE,
            None,
            "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b",
            labels={
                "kubernetes.io/arch": "arm64",
                "kubernetes.io/hostname": _NODE,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/worker": "",
                "node-role.kubernetes.io/ingress": "",
                "node.kubernetes.io/instance-type": "m7g.xlarge",
                "topology.kubernetes.io/zone": "eu-west-1a",
            },
            annotations={
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                "csi.volume.kubernetes.io/nodeid": '{"ebs.csi.aws.com":"i-0abc"}',
                "cluster-autoscaler/scale-down-disabled": "false",
            },
        ),
        "spec": {"providerID": "aws:///eu-west-1a/i-0abc123def4567890", "podCIDR": "10.0.45.0/24"},
        "status": {
            "capacity": {
                "cpu": "4",
                "memory": "16110568Ki",
                "pods": "58",
                "ephemeral-storage": "83873772Ki",
            },
            "allocatable": {"cpu": "3920m", "memory": "15094760Ki", "pods": "58"},
            "conditions": [
                {
                    "type": "MemoryPressure",
                    "status": "False",
                    "reason": "KubeletHasSufficientMemory",
                },
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure"},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady"},
            ],
            "addresses": [
                {"type": "InternalIP", "address": "10.0.12.34"},
                {"type": "Hostname", "address": _NODE},
            ],
            "nodeInfo": {
                "machineID": "ec2" + "0" * 29,
                "systemUUID": "ec2" + "1" * 29,
                "bootID": "b" * 32,
                "kernelVersion": "6.1.79-99.167.amzn2023.aarch64",
                "osImage": "Amazon Linux 2023.3.20240304",
                "containerRuntimeVersion": "containerd://1.7.11",
                "kubeletVersion": "v1.29.0-eks-5e0fdde",
                "kubeProxyVersion": "v1.29.0-eks-5e0fdde",
                "operatingSystem": "linux",
                "architecture": "arm64",
            },
            "images": [
                {"names": ["ghcr.io/example/payments-api:1.42.0"], "sizeBytes": 48213977},
                {"names": ["docker.io/envoyproxy/envoy:v1.29.1"], "sizeBytes": 61882331},
            ],
        },
    }


def _event() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": "payments-api-7d9f8b6c5d-x2k4p.17b9c3d2e1f0a9b8",
            "namespace": "payments",
            "uid": "8f9a0b1c-2d3e-4f4a-9b5c-6d7e8f9a0b1c",
            "resourceVersion": "48214001",
            "creationTimestamp": "2024-03-05T08:01:12Z",
            "managedFields": _managed_fields("kubelet"),
        },
        "involvedObject": {
            "kind": "Pod",
            "namespace": "payments",
            "name": "payments-api-7d9f8b6c5d-x2k4p",
            "uid": "0c6f1d8e-2b7a-4f3e-8d91-5a6b7c8d9e10",
            "apiVersion": "v1",
            "resourceVersion": "48213977",
            "fieldPath": "spec.containers{api}",
        },
        "reason": "BackOff",
        "message": "Back-off restarting failed container api in pod payments-api-7d9f8b6c5d-x2k4p",
        "source": {"component": "kubelet", "host": _NODE},
        "firstTimestamp": "2024-03-05T08:01:12Z",
        "lastTimestamp": "2024-03-05T08:09:47Z",
        "count": 14,
        "type": "Warning",
        "eventTime": None,
        "reportingComponent": "kubelet",
        "reportingInstance": _NODE,
    }


_BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "Namespace": _namespace,
    "Pod": _pod,
    "Service": _service,
    "Node": _node,
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "Job": _job,
    "CronJob": _cronjob,
    "Ingress": _ingress,
    "NetworkPolicy": _network_policy,
    "ConfigMap": _configmap,
    "Secret": _secret,
    "PersistentVolumeClaim": _pvc,
    "ServiceAccount": _service_account,
    "Role": _role,
    "ClusterRole": _cluster_role,
    "RoleBinding": _role_binding,
    "ClusterRoleBinding": _cluster_role_binding,
    "Event": _event,
}

#: Every kind name :func:`sample_object` knows, in snapshot order.
SAMPLE_KINDS: tuple[str, ...] = tuple(_BUILDERS)


def sample_object(kind_name: str) -> dict[str, Any]:
    """A fresh, realistic raw object of a core kind (``KeyError`` naming the known ones else)."""
    try:
        return _BUILDERS[kind_name]()
    except KeyError:
        raise KeyError(
            f"no sample for kind {kind_name!r}; known: {', '.join(SAMPLE_KINDS)}"
        ) from None


# ----------------------------------------------------------------- a synthetic cluster

#: Objects per thousand in a typical production cluster: pods and events dominate.
CLUSTER_MIX: dict[str, int] = {
    "Pod": 300,
    "Event": 200,
    "ConfigMap": 70,
    "Secret": 70,
    "ServiceAccount": 50,
    "Service": 45,
    "Deployment": 35,
    "ClusterRole": 30,
    "RoleBinding": 30,
    "Role": 25,
    "ClusterRoleBinding": 25,
    "Job": 20,
    "PersistentVolumeClaim": 15,
    "Namespace": 12,
    "Ingress": 10,
    "NetworkPolicy": 10,
    "CronJob": 8,
    "StatefulSet": 8,
    "Node": 6,
    "DaemonSet": 5,
}

_CLUSTER_SCOPED = frozenset({"Namespace", "Node", "ClusterRole", "ClusterRoleBinding"})
_SYSTEM_NAMESPACES = (
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "monitoring",
    "ingress-nginx",
    "cert-manager",
    "argocd",
)
_APPS = (
    "checkout", "payments", "search", "catalog", "cart", "users", "auth", "gateway",
    "orders", "billing", "inventory", "shipping", "notifications", "reports", "recommender",
    "pricing", "ledger", "media", "webhooks", "scheduler",
)  # fmt: skip
_TEAMS = ("commerce", "platform", "data", "identity", "growth", "finance")
_ENVIRONMENTS = ("production", "production", "production", "staging")
_PHASES = ("Running",) * 18 + ("Pending", "Succeeded", "Failed")
_EVENT_REASONS = (
    ("Normal", "Scheduled"),
    ("Normal", "Pulled"),
    ("Normal", "Created"),
    ("Normal", "Started"),
    ("Normal", "ScalingReplicaSet"),
    ("Warning", "BackOff"),
    ("Warning", "Unhealthy"),
    ("Warning", "FailedScheduling"),
)
_EPOCH = datetime(2024, 3, 5, 12, 0, 0, tzinfo=UTC)
_NINETY_DAYS = 90 * 24 * 3600


def synthetic_cluster(total: int, *, seed: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(kind_name, raw_object)`` for ``total`` objects of a realistic cluster.

    Objects come grouped by kind in snapshot order (as an operator lists them);
    every kind appears at least once when ``total >= 20``.  Names are unique
    per kind and namespace, uids unique; both, like namespaces, labels, images
    and phases, are deterministic for a given ``seed``.
    """
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    rng = random.Random(seed)
    counts = cluster_counts(total)
    namespaces = _namespace_names(max(counts["Namespace"], 4))
    app_namespaces = namespaces[len(_SYSTEM_NAMESPACES) :] or namespaces
    nodes = [
        f"ip-10-0-{i // 250}-{i % 250 + 1}.eu-west-1.compute.internal"
        for i in range(max(counts["Node"], 1))
    ]
    for kind in SAMPLE_KINDS:
        template = orjson.dumps(_BUILDERS[kind]())
        for index in range(counts[kind]):
            obj = orjson.loads(template)
            meta = obj["metadata"]
            app = rng.choice(_APPS)
            meta["uid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            meta["resourceVersion"] = str(40_000_000 + rng.randrange(10_000_000))
            created = _EPOCH - timedelta(seconds=rng.randrange(_NINETY_DAYS))
            meta["creationTimestamp"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
            if kind == "Namespace":
                meta["name"] = namespaces[index]
                meta["labels"] = {"kubernetes.io/metadata.name": namespaces[index]}
            elif kind == "Node":
                meta["name"] = nodes[index]
                meta["labels"]["kubernetes.io/hostname"] = nodes[index]
            else:
                meta["name"] = f"{app}-{index:05x}"
                if kind not in _CLUSTER_SCOPED:
                    # Most objects live in application namespaces, a tail in system ones.
                    pool = app_namespaces if rng.random() < 0.85 else namespaces
                    meta["namespace"] = rng.choice(pool)
                if kind != "Event":
                    meta["labels"] = {
                        "app.kubernetes.io/name": app,
                        "app.kubernetes.io/part-of": rng.choice(_TEAMS),
                        "environment": rng.choice(_ENVIRONMENTS),
                    }
            _VARY.get(kind, _vary_nothing)(obj, app, index, rng, nodes)
            yield kind, obj


def cluster_counts(total: int) -> dict[str, int]:
    """How many objects of each kind :func:`synthetic_cluster` yields for ``total``."""
    by_weight = sorted(CLUSTER_MIX, key=lambda k: -CLUSTER_MIX[k])
    counts = dict.fromkeys(SAMPLE_KINDS, 0)
    if total < len(SAMPLE_KINDS):
        for kind in by_weight[:total]:
            counts[kind] = 1
        return counts
    rest = total - len(SAMPLE_KINDS)
    weight_sum = sum(CLUSTER_MIX.values())
    shares = {k: rest * CLUSTER_MIX[k] / weight_sum for k in SAMPLE_KINDS}
    for kind in SAMPLE_KINDS:
        counts[kind] = 1 + int(shares[kind])
    # Largest remainders take the objects lost to rounding down.
    missing = total - sum(counts.values())
    for kind in sorted(SAMPLE_KINDS, key=lambda k: -(shares[k] - int(shares[k])))[:missing]:
        counts[kind] += 1
    return counts


def _namespace_names(count: int) -> list[str]:
    names = list(_SYSTEM_NAMESPACES[:count])
    for i in range(count - len(names)):
        names.append(f"{_APPS[i % len(_APPS)]}-{_TEAMS[i % len(_TEAMS)]}-{i}")
    return names


def _vary_nothing(
    obj: dict[str, Any], app: str, index: int, rng: random.Random, nodes: list[str]
) -> None:
    return None


def _vary_pod(
    obj: dict[str, Any], app: str, index: int, rng: random.Random, nodes: list[str]
) -> None:
    image = f"ghcr.io/example/{app}:1.{rng.randrange(60)}.{rng.randrange(10)}"
    spec, status = obj["spec"], obj["status"]
    obj["metadata"]["name"] = f"{app}-{index:08x}-{rng.getrandbits(20):05x}"
    obj["metadata"]["labels"]["pod-template-hash"] = f"{rng.getrandbits(32):08x}"
    spec["nodeName"] = rng.choice(nodes)
    spec["containers"][0]["image"] = image
    status["containerStatuses"][0]["image"] = image
    status["containerStatuses"][0]["restartCount"] = rng.choice((0, 0, 0, 0, 1, 3))
    if rng.random() < 0.3:
        # Not every pod has a sidecar.
        del spec["containers"][1]
        del status["containerStatuses"][1]
    status["phase"] = rng.choice(_PHASES)
    status["podIP"] = f"10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _vary_event(
    obj: dict[str, Any], app: str, index: int, rng: random.Random, nodes: list[str]
) -> None:
    event_type, reason = rng.choice(_EVENT_REASONS)
    target = f"{app}-{rng.getrandbits(32):08x}-{rng.getrandbits(20):05x}"
    obj["metadata"]["name"] = f"{target}.{rng.getrandbits(64):016x}"
    obj["type"], obj["reason"] = event_type, reason
    obj["message"] = f"{reason} for pod {target}"
    obj["count"] = rng.randrange(1, 40)
    involved = obj["involvedObject"]
    involved["name"], involved["namespace"] = target, obj["metadata"]["namespace"]
    involved["uid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    obj["source"]["host"] = rng.choice(nodes)


def _vary_workload(
    obj: dict[str, Any], app: str, index: int, rng: random.Random, nodes: list[str]
) -> None:
    template = obj["spec"]["template"]
    template["spec"]["containers"][0]["image"] = f"ghcr.io/example/{app}:1.{rng.randrange(60)}.0"
    if "replicas" in obj["spec"]:
        obj["spec"]["replicas"] = rng.choice((1, 2, 2, 3, 3, 5, 10))


def _vary_data(
    obj: dict[str, Any], app: str, index: int, rng: random.Random, nodes: list[str]
) -> None:
    # A different value per object, so value hashes differ like in a real cluster.
    token = rng.getrandbits(96).to_bytes(12, "big")
    if obj["kind"] == "Secret":
        obj["data"]["password"] = base64.b64encode(token.hex().encode()).decode()
    else:
        obj["data"]["WEBHOOK_SECRET"] = token.hex()


_VARY: dict[str, Callable[[dict[str, Any], str, int, random.Random, list[str]], None]] = {
    "Pod": _vary_pod,
    "Event": _vary_event,
    "Deployment": _vary_workload,
    "StatefulSet": _vary_workload,
    "DaemonSet": _vary_workload,
    "Secret": _vary_data,
    "ConfigMap": _vary_data,
}
