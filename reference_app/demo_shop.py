"""A small, coherent application for the demo: objects that point at each other.

The synthetic cluster of :mod:`reference_app.demo` is realistic in volume but
random in its links.  This adds one shop the way Kubernetes would run it, as
raw API objects (the kinds' ``extract`` turns them into records, exactly like
the operator): a Deployment with its pods (``pod-template-hash`` labels and
owner references to their ReplicaSet), a Service and an Ingress routing to
them, the ConfigMap and Secret they mount, and some trouble for the attention
list: a pod in CrashLoopBackOff with its warning events, a pod stuck Pending
on an image pull, a Deployment below its desired replicas.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

NAMESPACE = "shop"
APP = "storefront"
TEMPLATE_HASH = "5d8f9c7b6"
REPLICA_SET = f"{APP}-{TEMPLATE_HASH}"
#: The image both demo clusters run: fleet search finds it in two places.
SHARED_IMAGE = "ghcr.io/obsyk-demo/storefront:2.4.1"
CRASHING_POD = f"{REPLICA_SET}-k2x9p"
PENDING_POD = "checkout-7c4d8-qz5rw"


def _uid(name: str, cluster: str) -> str:
    """Stable per cluster and name, so seeding twice gives the same objects."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"obsyk-demo/{cluster}/{name}"))


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(cluster: str, kind: str, name: str, created: datetime, **extra: Any) -> dict[str, Any]:
    meta = {
        "name": name,
        "namespace": NAMESPACE,
        "uid": _uid(f"{kind}/{name}", cluster),
        "creationTimestamp": _time(created),
    }
    meta.update(extra)
    return meta


def _container_status(name: str, image: str, *, waiting: str | None, restarts: int) -> Any:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": "x"}}
    return {
        "name": name,
        "image": image,
        "ready": waiting is None,
        "restartCount": restarts,
        "state": state,
    }


def _pod(
    cluster: str,
    name: str,
    created: datetime,
    *,
    image: str,
    labels: dict[str, str],
    owner: dict[str, Any] | None,
    phase: str = "Running",
    waiting: str | None = None,
    restarts: int = 0,
) -> dict[str, Any]:
    meta = _meta(cluster, "Pod", name, created, labels=labels)
    if owner:
        meta["ownerReferences"] = [owner]
    container = {
        "name": "web",
        "image": image,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "volumeMounts": [{"name": "config", "mountPath": "/etc/storefront", "readOnly": True}],
    }
    conditions = [{"type": "Ready", "status": "False" if waiting or phase != "Running" else "True"}]
    status: dict[str, Any] = {"phase": phase, "conditions": conditions}
    if phase == "Running" or waiting:
        status["containerStatuses"] = [
            _container_status("web", image, waiting=waiting, restarts=restarts)
        ]
    return {
        "metadata": meta,
        "spec": {
            "nodeName": "ip-10-0-0-1.eu-west-1.compute.internal",
            "serviceAccountName": APP,
            "containers": [container],
            "volumes": [
                {"name": "config", "configMap": {"name": f"{APP}-config"}},
                {"name": "tls", "secret": {"secretName": f"{APP}-tls"}},
            ],
        },
        "status": status,
    }


def shop_objects(cluster: str, now: datetime) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(kind, raw object)`` of the shop in the main demo cluster."""
    created = now - timedelta(days=3)
    labels = {"app": APP, "pod-template-hash": TEMPLATE_HASH}
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": REPLICA_SET,
        "uid": _uid(f"ReplicaSet/{REPLICA_SET}", cluster),
        "controller": True,
    }
    yield "Namespace", {"metadata": {"name": NAMESPACE, "uid": _uid("Namespace/shop", cluster)}}
    yield (
        "Deployment",
        {
            "metadata": _meta(cluster, "Deployment", APP, created, labels={"app": APP}),
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": APP}},
                "strategy": {"type": "RollingUpdate"},
                "template": {"spec": {"containers": [{"name": "web", "image": SHARED_IMAGE}]}},
            },
            "status": {"readyReplicas": 2, "availableReplicas": 2, "updatedReplicas": 3},
        },
    )
    for suffix in ("7hx2m", "c8w4t"):
        yield (
            "Pod",
            _pod(
                cluster,
                f"{REPLICA_SET}-{suffix}",
                created,
                image=SHARED_IMAGE,
                labels=labels,
                owner=replica_set,
            ),
        )
    yield (
        "Pod",
        _pod(
            cluster,
            CRASHING_POD,
            now - timedelta(hours=2),
            image=SHARED_IMAGE,
            labels=labels,
            owner=replica_set,
            waiting="CrashLoopBackOff",
            restarts=14,
        ),
    )
    yield (
        "Pod",
        _pod(
            cluster,
            PENDING_POD,
            now - timedelta(minutes=25),
            image="ghcr.io/obsyk-demo/checkout:0.9.0-typo",
            labels={"app": "checkout"},
            owner=None,
            phase="Pending",
            waiting="ImagePullBackOff",
        ),
    )
    yield (
        "Service",
        {
            "metadata": _meta(cluster, "Service", APP, created, labels={"app": APP}),
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.96.12.34",
                "selector": {"app": APP},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            },
        },
    )
    yield (
        "Ingress",
        {
            "metadata": _meta(cluster, "Ingress", APP, created),
            "spec": {
                "ingressClassName": "nginx",
                "rules": [
                    {
                        "host": "shop.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": APP, "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ],
                "tls": [{"hosts": ["shop.example.com"], "secretName": f"{APP}-tls"}],
            },
        },
    )
    yield (
        "ConfigMap",
        {
            "metadata": _meta(cluster, "ConfigMap", f"{APP}-config", created),
            "data": {"LOG_LEVEL": "info", "FEATURE_FLAGS": "checkout-v2"},
        },
    )
    yield (
        "Secret",
        {
            "metadata": _meta(cluster, "Secret", f"{APP}-tls", created),
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "", "tls.key": ""},
        },
    )
    yield (
        "ServiceAccount",
        {"metadata": _meta(cluster, "ServiceAccount", APP, created)},
    )
    crashing_uid = _uid(f"Pod/{CRASHING_POD}", cluster)
    for minutes, reason, message in (
        (3, "BackOff", "Back-off restarting failed container web"),
        (20, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"),
    ):
        yield (
            "Event",
            {
                "metadata": {
                    "name": f"{CRASHING_POD}.{reason.lower()}",
                    "namespace": NAMESPACE,
                    "uid": _uid(f"Event/{CRASHING_POD}/{reason}", cluster),
                },
                "type": "Warning",
                "reason": reason,
                "message": message,
                "involvedObject": {
                    "kind": "Pod",
                    "name": CRASHING_POD,
                    "namespace": NAMESPACE,
                    "uid": crashing_uid,
                },
                "source": {"component": "kubelet"},
                "firstTimestamp": _time(now - timedelta(hours=2)),
                "lastTimestamp": _time(now - timedelta(minutes=minutes)),
                "count": 14,
            },
        )


def edge_objects(cluster: str, now: datetime) -> Iterator[tuple[str, dict[str, Any]]]:
    """The second demo cluster: the same storefront image in another place."""
    created = now - timedelta(days=10)
    yield "Namespace", {"metadata": {"name": NAMESPACE, "uid": _uid("Namespace/shop", cluster)}}
    for suffix in ("a1b2c", "d3e4f"):
        yield (
            "Pod",
            _pod(
                cluster,
                f"{APP}-edge-{suffix}",
                created,
                image=SHARED_IMAGE,
                labels={"app": APP},
                owner=None,
            ),
        )
