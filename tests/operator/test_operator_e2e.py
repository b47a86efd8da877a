"""End to end: the operator, the Kubernetes test server and the real reference app over HTTP.

The app runs embedded (SQLite in ``tmp_path``, in-process jobs) behind a
werkzeug server thread on a free port; the operator knows nothing but its URL
and the credential ``register_cluster`` issued, exactly as in production.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from operator_support import operator_settings
from test_operator_sync import pod
from werkzeug.serving import make_server

from obsyk_core.kinds import KindRegistry
from obsyk_core.storage import ResourceQuery
from obsyk_operator.operator import Operator
from obsyk_operator.testing.kube_server import KubeServer


class ReferencePlatform:
    def __init__(self, app: Any, url: str) -> None:
        self.app = app
        self.url = url

    @property
    def storage(self) -> Any:
        from reference_app.state import get_state

        return get_state(self.app).storage

    def pod_names(self, cluster_id: str) -> set[str]:
        rows = self.storage.query_resources(
            ResourceQuery(cluster_ids=(cluster_id,), kind="Pod", limit=1000)
        )
        return {row.name for row in rows}


@pytest.fixture
def reference_platform(tmp_path: Path) -> Iterator[ReferencePlatform]:
    from reference_app import create_app
    from reference_app.app import close_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "PUBLIC_URLS": url,
            "PERIODIC_JOBS": False,
        }
    )
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ReferencePlatform(app, url)
    server.shutdown()
    close_app(app)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not reached in {timeout}s")


def start_operator_for(
    platform: ReferencePlatform, kubeconfig: Path, kinds: KindRegistry, **settings: Any
) -> tuple[Operator, str, str]:
    """An operator with a fresh cluster's credential; (operator, org id, cluster id)."""
    from reference_app.auth.credentials import register_cluster

    org = platform.storage.create_org("e2e-org")
    registration = register_cluster(platform.storage, org.id, "e2e")
    operator = Operator(
        operator_settings(
            platform_url=platform.url,
            client_id=registration.client_id,
            private_key_pem=registration.private_key_pem,
            kubeconfig=kubeconfig,
            **settings,
        ),
        kinds=kinds,
    ).start()
    return operator, org.id, registration.cluster.id


def test_operator_keeps_the_reference_app_inventory_live(
    kube: KubeServer,
    kubeconfig: Path,
    kind_registry: KindRegistry,
    reference_platform: ReferencePlatform,
) -> None:
    kube.add("pods", pod("api"))
    kube.add("pods", pod("worker"))
    operator, org_id, cluster_id = start_operator_for(reference_platform, kubeconfig, kind_registry)
    try:
        wait_for(lambda: reference_platform.pod_names(cluster_id) == {"api", "worker"})
        cluster = reference_platform.storage.get_cluster(org_id, cluster_id)
        assert cluster.cluster_uid == kube.kube_system_uid

        kube.add("pods", pod("new"))
        kube.delete("pods", "worker", namespace="default")
        wait_for(lambda: reference_platform.pod_names(cluster_id) == {"api", "new"})

        with kube.watches_paused():  # a delete nobody watched, repaired after 410
            kube.delete("pods", "api", namespace="default")
            kube.compact()
        wait_for(lambda: reference_platform.pod_names(cluster_id) == {"new"})
        assert operator.heartbeat.sent >= 1
    finally:
        operator.stop()


def test_changes_still_on_their_way_are_no_drift_and_a_lost_change_is(
    kube: KubeServer,
    kubeconfig: Path,
    kind_registry: KindRegistry,
    reference_platform: ReferencePlatform,
) -> None:
    kube.add("pods", pod("api"))
    operator, _, cluster_id = start_operator_for(
        reference_platform,
        kubeconfig,
        kind_registry,
        shipping={"heartbeat_interval": 3600},  # this test beats by hand
    )
    asked: list[str] = []
    operator.heartbeat.on_resync = asked.extend
    try:
        wait_for(lambda: reference_platform.pod_names(cluster_id) == {"api"})
        wait_for(lambda: not operator.shipper.unsettled_kinds())
        held = threading.Event()

        def hold() -> bool:
            held.set()
            return False

        operator.shipper.may_ship = hold  # the change below stays queued
        assert held.wait(5)
        kube.add("pods", pod("new"))
        wait_for(lambda: len(operator.cache["Pod"]) == 2)
        assert "Pod" in operator.shipper.unsettled_kinds()
        operator.heartbeat.beat()
        assert asked == []  # the queued Pod is no drift: no snapshot of every Pod

        operator.shipper.may_ship = lambda: True
        wait_for(lambda: reference_platform.pod_names(cluster_id) == {"api", "new"})
        wait_for(lambda: not operator.shipper.unsettled_kinds())
        operator.heartbeat.beat()
        assert asked == []

        with operator.cache.lock:  # a delete the platform never hears of: real drift
            gone = next(obj for obj in operator.cache["Pod"] if obj.name == "new")
            operator.cache["Pod"].remove(gone.uid)
        operator.heartbeat.beat()
        assert asked == ["Pod"]
    finally:
        operator.stop()
