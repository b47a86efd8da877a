"""Kinds the cluster does not serve, or RBAC forbids, are skipped; the other kinds keep flowing.

Against the test Kubernetes server through the real ``kubernetes`` client:
a kind plugin (the how-to's cert-manager ``Certificate``) whose CRD is absent
does not stop the operator; the CRD appearing later starts the kind, and its
removal stops it and tombstones its resources through a snapshot carrying an
empty array.  The states reach the heartbeat (``kinds``), ``/readyz`` and
``/metrics``, and each change is logged once.  The operator sends only the
kinds the platform says it accepts.
"""

from __future__ import annotations

import importlib.util
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from fake_platform import FakePlatform

import obsyk_plugins.core_kinds as core_kinds
from obsyk_core.kinds import KindRegistry
from obsyk_core.plugins import build_plugin_manager
from obsyk_operator.operator import Operator
from obsyk_operator.testing.kube_server import KubeServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KINDS = frozenset({"Namespace", "Pod", "Certificate"})
CRD, CERTIFICATE = yaml.safe_load_all((EXAMPLES / "cert-manager.yaml").read_text())


@pytest.fixture(scope="module")
def kind_registry() -> KindRegistry:
    spec = importlib.util.spec_from_file_location(
        "obsyk_cert_manager", EXAMPLES / "obsyk_cert_manager.py"
    )
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return build_plugin_manager(
        plugins=[core_kinds, example], load_entry_points=False, disabled=[]
    ).kinds


def _install_cert_manager(kube: KubeServer) -> None:
    kube.add("customresourcedefinitions", CRD)
    kube.add("namespaces", {"metadata": {"name": "shop"}})
    kube.add("certificates", CERTIFICATE, group="cert-manager.io")


def _last_heartbeat_kinds(platform: FakePlatform) -> dict[str, str] | None:
    beats = [body for body in platform.bodies("/heartbeat") if "kinds" in body]
    return beats[-1]["kinds"] if beats else None


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_kind_whose_crd_is_absent_is_skipped_and_every_other_kind_flows(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    kube.add("pods", {"metadata": {"name": "web-1"}})
    with structlog.testing.capture_logs() as logs:
        operator = start_operator(kinds=KINDS, health_port=0)
        platform.wait_for(lambda: platform.bodies("/snapshot"))
        operator.rediscover()  # nothing changed: nothing more is logged

    assert operator.ready.is_set()
    snapshot = platform.bodies("/snapshot")[0]
    assert [pod["name"] for pod in snapshot["pods"]] == ["web-1"]
    # The cluster serves no certificates, so it has none: an empty array says so.
    assert snapshot["certificates"] == []
    platform.wait_for(lambda: _last_heartbeat_kinds(platform) is not None)
    assert _last_heartbeat_kinds(platform) == {
        "Namespace": "watched",
        "Pod": "watched",
        "Certificate": "not_served",
    }
    skipped = [entry for entry in logs if entry["event"].startswith("kind skipped")]
    assert [(entry["kind"], entry["state"]) for entry in skipped] == [("Certificate", "not_served")]
    port = operator.servers[0].port
    assert _get(f"http://127.0.0.1:{port}/readyz") == (
        200,
        "ok\nkind Certificate skipped: not_served\n",
    )
    state = operator.metrics.registry.get_sample_value(
        "obsyk_operator_kind_state", {"kind": "Certificate", "state": "not_served"}
    )
    assert state == 1.0
    assert not [path for path, _ in kube.requests if "watch" in path and "certificates" in path]


def test_a_crd_installed_later_starts_its_kind_and_its_removal_tombstones_it(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    operator = start_operator(kinds=KINDS, discovery_interval=0.2)
    platform.wait_for(lambda: platform.bodies("/snapshot"))

    _install_cert_manager(kube)
    # The discovery loop notices the CRD, lists the kind, and a snapshot of it follows.
    platform.wait_for(lambda: platform.names("Certificate") == {"shop-example-com"})
    platform.wait_for(
        lambda: (_last_heartbeat_kinds(platform) or {}).get("Certificate") == "watched"
    )
    kube.modify(
        "certificates", "shop-example-com", {"metadata": {"labels": {"tier": "edge"}}},
        namespace="shop", group="cert-manager.io",
    )  # fmt: skip
    platform.wait_for(
        lambda: (
            [r.get("labels") for r in platform.records("Certificate").values()]
            == [{"app": "web", "tier": "edge"}]
        )
    )

    kube.delete("customresourcedefinitions", CRD["metadata"]["name"])
    # Gone with its API: a snapshot carrying an empty array tombstones it on the platform.
    platform.wait_for(lambda: platform.names("Certificate") == set())
    assert [body["certificates"] for body in platform.bodies("/snapshot")][-1] == []
    assert all(watcher.kind != "Certificate" for watcher in operator.watchers)
    assert operator.alive()
    platform.wait_for(
        lambda: (_last_heartbeat_kinds(platform) or {}).get("Certificate") == "not_served"
    )


def test_a_kind_rbac_forbids_is_skipped_not_an_outage(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    kube.forbid("secrets")
    kube.add("pods", {"metadata": {"name": "web-1"}})
    operator = start_operator(kinds=frozenset({"Namespace", "Pod", "Secret"}))
    platform.wait_for(lambda: platform.bodies("/snapshot"))

    assert operator.ready.is_set()
    snapshot = platform.bodies("/snapshot")[0]
    # What exists is unknown: the kind is not carried, so the platform's copy stays as it was.
    assert "secrets" not in snapshot and len(snapshot["pods"]) == 1
    platform.wait_for(lambda: _last_heartbeat_kinds(platform) is not None)
    beat: dict[str, Any] = [b for b in platform.bodies("/heartbeat") if "kinds" in b][-1]
    assert beat["kinds"]["Secret"] == "forbidden"
    assert "Secret" not in beat["counts"] and "Secret" not in beat["digests"]

    kube.forbid("secrets", forbidden=False)  # the ClusterRole was fixed
    kube.add("secrets", {"metadata": {"name": "tls"}, "data": {"k": "dg=="}})
    operator.rediscover()
    platform.wait_for(lambda: "tls" in platform.names("Secret"))


def test_only_the_kinds_the_platform_accepts_are_sent_until_it_accepts_more(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    platform.accepted_kinds = ["Namespace", "Pod"]  # an older platform, no cert-manager plugin
    _install_cert_manager(kube)
    start_operator(kinds=KINDS)
    platform.wait_for(lambda: platform.bodies("/snapshot"))

    assert "certificates" not in platform.bodies("/snapshot")[0]
    kube.modify(
        "certificates", "shop-example-com", {"metadata": {"labels": {"tier": "edge"}}},
        namespace="shop", group="cert-manager.io",
    )  # fmt: skip
    kube.add("pods", {"metadata": {"name": "after"}})
    platform.wait_for(lambda: "after" in platform.names("Pod"))
    assert not [
        body for body in platform.bodies("/events") if "Certificate" in str(body.get("events"))
    ]

    platform.accepted_kinds = ["Certificate", "Namespace", "Pod"]  # the platform was upgraded
    platform.wait_for(lambda: platform.names("Certificate") == {"shop-example-com"})
