"""The operator's settings: nested dataclasses, filled by the CLI (or a test)."""

from __future__ import annotations

from dataclasses import dataclass, field

MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class PlatformSettings:
    url: str
    client_id: str
    #: PEM text of the ECDSA P-256 private key (SEC1 or PKCS#8).
    private_key_pem: str
    request_timeout: float = 15.0


@dataclass(frozen=True, kw_only=True, slots=True)
class KubeSettings:
    #: ``None``: in-cluster configuration from the pod's service account.
    kubeconfig: str | None = None
    list_page_size: int = 500
    request_timeout: float = 30.0
    watch_timeout_seconds: int = 300
    #: Seconds between checks of which kinds the cluster serves and lets us list
    #: (a CRD installed or removed, RBAC changed); also checked at start.
    discovery_interval: float = 300.0


@dataclass(frozen=True, kw_only=True, slots=True)
class SelectionSettings:
    """Which kinds and namespaces are watched (``None``: all)."""

    kinds: frozenset[str] | None = None
    exclude_kinds: frozenset[str] = frozenset()
    namespaces: frozenset[str] | None = None
    exclude_namespaces: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True, slots=True)
class ShippingSettings:
    batch_size: int = 200
    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    heartbeat_interval: float = 60.0
    resync_interval: float = 6 * 3600.0
    snapshot_chunk_bytes: int = 8 * MIB
    #: Use the batch/ordering extensions until the platform shows it does not know them.
    use_batches: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class LeaderSettings:
    enabled: bool = False
    namespace: str = "obsyk-system"
    name: str = "obsyk-operator"
    identity: str = ""
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


@dataclass(frozen=True, kw_only=True, slots=True)
class DataHashSettings:
    """Where the per-installation HMAC key for Secret/ConfigMap ``data_hashes`` lives."""

    enabled: bool = True
    namespace: str = "obsyk-system"
    secret_name: str = "obsyk-operator-hmac"


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    cluster_name: str
    platform: PlatformSettings
    kube: KubeSettings = field(default_factory=KubeSettings)
    selection: SelectionSettings = field(default_factory=SelectionSettings)
    shipping: ShippingSettings = field(default_factory=ShippingSettings)
    leader: LeaderSettings = field(default_factory=LeaderSettings)
    data_hashes: DataHashSettings = field(default_factory=DataHashSettings)
    #: ``None`` disables the server; 0 picks a free port (tests).
    health_port: int | None = 8081
    metrics_port: int | None = 8080
    agent_version: str = "dev"
