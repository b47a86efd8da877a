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
from operator_support import operator_settings

from obsyk_core.kinds import KindRegistry
from obsyk_core.plugins import build_plugin_manager
from obsyk_operator.operator import Operator
from obsyk_operator.testing.kube_server import KubeServer

#: Enough kinds to cover namespaced, cluster-scoped and the hashed ones, without 20 watches.


@pytest.fixture(scope="session")
def kind_registry() -> KindRegistry:
    return build_plugin_manager(distribution="obsyk", disabled=()).kinds


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
