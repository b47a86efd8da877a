"""Helpers shared by the operator tests (imported by conftest.py and by tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def operator_settings(
    *,
    platform_url: str,
    client_id: str,
    private_key_pem: str,
    kubeconfig: Path,
    kinds: frozenset[str] | None = TEST_KINDS,
    namespaces: frozenset[str] | None = None,
    exclude_namespaces: frozenset[str] = frozenset(),
    shipping: dict[str, Any] | None = None,
    leader: LeaderSettings | None = None,
    discovery_interval: float = 300.0,
    **overrides: Any,
) -> Settings:
    """Settings with test-sized intervals: everything happens within a second or two."""
    return Settings(
        cluster_name="test-cluster",
        platform=PlatformSettings(
            url=platform_url, client_id=client_id, private_key_pem=private_key_pem
        ),
        kube=KubeSettings(
            kubeconfig=str(kubeconfig),
            list_page_size=3,
            request_timeout=5.0,
            discovery_interval=discovery_interval,
        ),
        selection=SelectionSettings(
            kinds=kinds, namespaces=namespaces, exclude_namespaces=exclude_namespaces
        ),
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
