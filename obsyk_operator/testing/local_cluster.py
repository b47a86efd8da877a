"""``python -m obsyk_operator.testing.kube_server``: a pretend cluster to point the operator at.

Serves :class:`~obsyk_operator.testing.kube_server.KubeServer` on a fixed
port, seeded with a small realistic cluster (``--seed demo``: four
namespaces, two nodes, a few Deployments with their Pods, Services,
ConfigMaps, a Secret), writes a kubeconfig for it, and with ``--churn
SECONDS`` keeps changing it (a Pod added, one modified, one deleted per tick)
so changes can be watched flowing to the platform.  Objects can also be
created and deleted over HTTP (``curl -X POST``/``-X DELETE``), as with a real
API server.  Each change is printed on stdout, one line each.

``--crd FILE.yaml`` (repeatable) serves custom resources, for kind plugins:
the file's CustomResourceDefinitions are created as on a real cluster, and
any other documents in it (objects of those resources) after them.

The objects are built here, not taken from ``obsyk_plugins``: the operator
package must not depend on the plugins package at import time.
"""

from __future__ import annotations

import argparse
import base64
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from obsyk_operator.testing.kube_server import KubeServer

Obj = dict[str, Any]


def _container(name: str, image: str, port: int | None = None) -> Obj:
    container: Obj = {
        "name": name,
        "image": image,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        # A value the operator must never send: only env names leave the cluster.
        "env": [{"name": "LOG_LEVEL", "value": "info"}],
    }
    if port is not None:
        container["ports"] = [{"containerPort": port, "protocol": "TCP"}]
    return container


def pod(name: str, namespace: str, app: str, image: str, node: str, port: int | None = None) -> Obj:
    """A running Pod of ``app`` on ``node``."""
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
        "spec": {
            "nodeName": node,
            "serviceAccountName": "default",
            "containers": [_container(app, image, port)],
        },
        "status": {
            "phase": "Running",
            "podIP": "10.244.0.10",
            "hostIP": "192.168.49.2",
            "containerStatuses": [
                {
                    "name": app,
                    "image": image,
                    "ready": True,
                    "restartCount": 0,
                    "started": True,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                }
            ],
        },
    }


def _deployment(name: str, namespace: str, image: str, replicas: int, port: int | None) -> Obj:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [_container(name, image, port)]},
            },
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "updatedReplicas": replicas,
        },
    }


def _service(name: str, namespace: str, port: int) -> Obj:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": name},
            "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def _node(name: str) -> Obj:
    return {
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
        },
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "3800m", "memory": "15Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {
                "kubeletVersion": "v1.30.0",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://1.7.13",
                "architecture": "amd64",
                "operatingSystem": "linux",
            },
        },
    }


#: (namespace, name, image, replicas, port) of the demo's Deployments.
_APPS = (
    ("kube-system", "coredns", "registry.k8s.io/coredns/coredns:v1.11.1", 2, 53),
    ("shop", "web", "nginx:1.27", 3, 80),
    ("shop", "api", "ghcr.io/example/shop-api:2.4.0", 2, 8080),
    ("monitoring", "prometheus", "prom/prometheus:v2.52.0", 1, 9090),
)
NODES = ("node-a", "node-b")


def demo_objects() -> Iterator[tuple[str, Obj]]:
    """``(plural, object)`` of the demo cluster (kube-system itself exists already)."""
    for namespace in ("default", "shop", "monitoring"):
        yield "namespaces", {"metadata": {"name": namespace}}
    for node in NODES:
        yield "nodes", _node(node)
    for namespace in ("default", "kube-system", "shop", "monitoring"):
        yield "serviceaccounts", {"metadata": {"name": "default", "namespace": namespace}}
    for namespace, name, image, replicas, port in _APPS:
        yield "deployments", _deployment(name, namespace, image, replicas, port)
        yield "services", _service(name, namespace, port)
        for i in range(replicas):
            node = NODES[i % len(NODES)]
            yield "pods", pod(f"{name}-7d4b9c-{i}", namespace, name, image, node, port)
    yield (
        "configmaps",
        {
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {
                "Corefile": ".:53 {\n  kubernetes cluster.local\n  forward . /etc/resolv.conf\n}"
            },
        },
    )
    yield (
        "configmaps",
        {
            "metadata": {"name": "web-config", "namespace": "shop"},
            "data": {"WORKERS": "4", "CACHE_TTL": "300"},
        },
    )
    yield (
        "secrets",
        {
            "metadata": {"name": "api-credentials", "namespace": "shop"},
            "type": "Opaque",
            "data": {"password": base64.b64encode(b"not-for-the-platform").decode()},
        },
    )


def seed(server: KubeServer, name: str) -> int:
    """Fill ``server`` with the ``name`` seed (``demo`` or ``empty``); the objects added."""
    if name == "empty":
        return 0
    added = 0
    for plural, obj in demo_objects():
        server.add(plural, obj)
        added += 1
    return added


class Churn:
    """Every ``interval``: add Pod ``shop/churn-N``, relabel the one before, delete the one
    before that, so at most two churn Pods exist at a time."""

    def __init__(
        self,
        server: KubeServer,
        interval: float,
        stop: threading.Event,
        say: Callable[[str], None],
    ) -> None:
        self.server = server
        self.interval = interval
        self.stop = stop
        self.say = say
        self.tick = 0

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.step()

    def step(self) -> None:
        self.tick += 1
        n = self.tick
        self.server.add("pods", pod(f"churn-{n}", "shop", "churn", "busybox:1.36", NODES[n % 2]))
        self.say(f"churn: added pod shop/churn-{n}")
        if n >= 2:
            labels = {"metadata": {"labels": {"tick": str(n)}}}
            self.server.modify("pods", f"churn-{n - 1}", labels, namespace="shop")
            self.say(f"churn: modified pod shop/churn-{n - 1}")
        if n >= 3:
            self.server.delete("pods", f"churn-{n - 2}", namespace="shop")
            self.say(f"churn: deleted pod shop/churn-{n - 2}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m obsyk_operator.testing.kube_server",
        description="A pretend Kubernetes API server (no authentication) to try the operator.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=6443, help="port (0: any free one)")
    parser.add_argument(
        "--kubeconfig", type=Path, default=Path("kubeconfig"), help="kubeconfig file to write"
    )
    parser.add_argument("--seed", choices=("demo", "empty"), default="demo", help="initial objects")
    parser.add_argument(
        "--churn",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="add, modify and delete a Pod in namespace shop every SECONDS (0: never)",
    )
    parser.add_argument(
        "--crd",
        type=Path,
        action="append",
        default=[],
        metavar="FILE.yaml",
        help="CustomResourceDefinition manifests to serve, then any objects of them in the "
        "same file (repeatable)",
    )
    return parser


def load_manifests(server: KubeServer, path: Path) -> tuple[int, int]:
    """Create ``path``'s CustomResourceDefinitions, then its other objects; the two counts."""
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    crds = [doc for doc in documents if doc.get("kind") == "CustomResourceDefinition"]
    for crd in crds:
        server.add("customresourcedefinitions", crd)
    others = [doc for doc in documents if doc.get("kind") != "CustomResourceDefinition"]
    for obj in others:
        res = server.resource_of(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        server.add(res.plural, obj, group=res.group)
    return len(crds), len(others)


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.churn < 0:
        build_parser().error("--churn must be positive (or 0 for never)")
    server = KubeServer()
    added = seed(server, args.seed)
    for path in args.crd:
        try:
            crds, objects = load_manifests(server, path)
        except (OSError, yaml.YAMLError, LookupError, AttributeError) as exc:
            print(f"kube_server: error: --crd {path}: {exc}", file=sys.stderr)
            return 2
        added += objects
        _say(f"{path}: {crds} custom resource definition(s), {objects} object(s)")
    try:
        server.start(host=args.host, port=args.port)
    except OSError as exc:
        print(
            f"kube_server: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 2
    server.write_kubeconfig(args.kubeconfig)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    _say(f"Kubernetes test API server at {server.url} ({added} objects, no authentication)")
    _say(f"kubeconfig written to {args.kubeconfig}")
    if args.churn:
        churn = Churn(server, args.churn, stop, _say)
        threading.Thread(target=churn.run, name="churn", daemon=True).start()
    stop.wait()
    server.stop()
    return 0
