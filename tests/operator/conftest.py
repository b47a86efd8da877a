"""Fixtures for the operator: the Kubernetes test server, a fake platform, a running operator.

The operator always talks to the API server through the real ``kubernetes``
client configured by a kubeconfig file, exactly as ``--kubeconfig`` does.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_platform import FakePlatform
from kube_server import KubeServer

from obsyk_core.kinds import KindRegistry
from obsyk_core.plugins import build_plugin_manager
from obsyk_operator.operator import Operator
from obsyk_operator.settings import (
    KubeSettings,
    LeaderSettings,
    PlatformSettings,
    SelectionSettings,
    Settings,
    ShippingSettings,
)

#: Enough kinds to cover namespaced, cluster-scoped and the hashed ones, without 20 watches.
TEST_KINDS = frozenset({"Namespace", "Pod", "ConfigMap", "Secret", "Deployment", "Node"})


@pytest.fixture(scope="session")
def kind_registry() -> KindRegistry:
    return build_plugin_manager().kinds


@pytest.fixture
def kube() -> Iterator[KubeServer]:
    server = KubeServer(bookmark_interval=0.3).start()
    yield server
    server.stop()


@pytest.fixture
def kubeconfig(kube: KubeServer, tmp_path: Path) -> Path:
    return kube.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def platform(kind_registry: KindRegistry) -> Iterator[FakePlatform]:
    fake = FakePlatform()
    fake.snapshot_keys = {kind.snapshot_key: kind.kind for kind in kind_registry}
    fake.start()
    yield fake
    fake.stop()


def operator_settings(
    *,
    platform_url: str,
    client_id: str,
    private_key_pem: str,
    kubeconfig: Path,
    kinds: frozenset[str] | None = TEST_KINDS,
    shipping: dict[str, Any] | None = None,
    leader: LeaderSettings | None = None,
    **overrides: Any,
) -> Settings:
    """Settings with test-sized intervals: everything happens within a second or two."""
    return Settings(
        cluster_name="test-cluster",
        platform=PlatformSettings(
            url=platform_url, client_id=client_id, private_key_pem=private_key_pem
        ),
        kube=KubeSettings(kubeconfig=str(kubeconfig), list_page_size=3, request_timeout=5.0),
        selection=SelectionSettings(kinds=kinds),
        shipping=ShippingSettings(
            **{
                "initial_backoff": 0.05,
                "max_backoff": 0.5,
                "heartbeat_interval": 0.3,
                **(shipping or {}),
            }
        ),
        leader=leader or LeaderSettings(),
        **{"health_port": None, "metrics_port": None, **overrides},
    )


@pytest.fixture
def start_operator(
    platform: FakePlatform, kubeconfig: Path, kind_registry: KindRegistry
) -> Iterator[Callable[..., Operator]]:
    """Start an operator against the fake platform; every one started is stopped at the end."""
    started: list[Operator] = []

    def start(**kwargs: Any) -> Operator:
        settings = operator_settings(
            platform_url=kwargs.pop("platform_url", platform.url),
            client_id=platform.client_id,
            private_key_pem=platform.private_key_pem,
            kubeconfig=kubeconfig,
            **kwargs,
        )
        operator = Operator(settings, kinds=kind_registry).start()
        started.append(operator)
        return operator

    yield start
    for operator in started:
        operator.stop()
