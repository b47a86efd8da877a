"""The operator: wires the layers together and runs them in threads.

API → :class:`~obsyk_operator.watching.KindWatcher` (one per kind) → local
cache + :class:`~obsyk_operator.send_queue.CoalescingQueue` →
:class:`~obsyk_operator.shipping.Shipper` / :class:`~obsyk_operator.shipping.HeartbeatLoop`
→ platform.  Optional: a :class:`~obsyk_operator.leader.LeaseElector` gating
shipping, and the health/metrics server.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import requests
import structlog

from obsyk_core.kinds import KindRegistry, ResourceKind
from obsyk_core.plugins import build_plugin_manager
from obsyk_operator.changes import Change
from obsyk_operator.cluster_secrets import SecretError, load_or_create_hmac_key
from obsyk_operator.data_hashes import SecretRef, with_data_hashes
from obsyk_operator.health import HealthServer
from obsyk_operator.kube_api import KubeApi, KubeApiError, collection_path, load_api_client
from obsyk_operator.leader import LeaseElector
from obsyk_operator.local_cache import LocalCache
from obsyk_operator.metrics import OperatorMetrics
from obsyk_operator.platform_client import PlatformClient
from obsyk_operator.platform_features import PlatformFeatures
from obsyk_operator.send_queue import CoalescingQueue
from obsyk_operator.settings import SelectionSettings, Settings
from obsyk_operator.shipping import ClusterIdentity, HeartbeatLoop, Shipper
from obsyk_operator.tokens import (
    CredentialError,
    PlatformUnavailable,
    TokenManager,
    load_private_key,
)
from obsyk_operator.watching import KindWatcher, NamespaceFilter

log = structlog.get_logger(__name__)


class StartupError(Exception):
    """The operator cannot start; the message is the one line the user needs."""


def select_kinds(registry: KindRegistry, selection: SelectionSettings) -> list[ResourceKind]:
    """The kinds to watch; names may be kind names (``Pod``) or snapshot keys (``pods``)."""

    def resolve(names: Iterable[str]) -> set[str]:
        resolved = set()
        for name in names:
            kind = registry.get(name) or registry.get_by_snapshot_key(name)
            if kind is None:
                known = ", ".join(sorted(k.kind for k in registry))
                raise StartupError(f"unknown kind {name!r}; installed kinds: {known}")
            resolved.add(kind.kind)
        return resolved

    wanted = resolve(selection.kinds) if selection.kinds is not None else {k.kind for k in registry}
    wanted -= resolve(selection.exclude_kinds)
    return [kind for kind in registry if kind.kind in wanted]


def kubernetes_version(kube: KubeApi) -> str | None:
    """The API server's ``gitVersion``; ``None`` (snapshots go without it) if unreadable."""
    try:
        version = kube.get("/version").get("gitVersion")
    except KubeApiError as exc:
        log.warning("cannot read the Kubernetes version", error=str(exc))
        return None
    return str(version) if version else None


def watch_scopes(kind: ResourceKind, selection: SelectionSettings) -> Sequence[str | None]:
    """The namespaces to LIST/WATCH ``kind`` in, one watcher each; ``[None]``: cluster-wide.

    With ``--namespaces`` a namespaced kind is watched in each of those namespaces
    only, so a Role per namespace is all the RBAC it needs.  Cluster-scoped kinds
    (Namespace, Node, ClusterRole...) have nowhere else to be listed from.
    """
    if not kind.namespaced or selection.namespaces is None:
        return [None]
    return sorted(selection.namespaces - selection.exclude_namespaces)


class _QueueSink:
    """Connects watchers to the queue and tells the operator when every watcher has listed."""

    def __init__(
        self,
        *,
        queue: CoalescingQueue,
        watchers: int,
        metrics: OperatorMetrics,
        on_all_synced: Callable[[], None],
    ) -> None:
        self.queue = queue
        self.metrics = metrics
        self._unsynced = watchers
        self._lock = threading.Lock()
        self._on_all_synced = on_all_synced

    def publish(self, change: Change) -> None:
        self.queue.put(change)
        self.metrics.changes_queued.labels(change.kind).inc()

    def kind_synced(self, kind: str) -> None:
        with self._lock:
            self._unsynced -= 1
            done = self._unsynced == 0
        if done:
            self._on_all_synced()


class _ShippingMetrics:
    def __init__(self, metrics: OperatorMetrics) -> None:
        self.m = metrics

    def sent(self, changes: int) -> None:
        self.m.changes_sent.inc(changes)

    def rejected(self, changes: int) -> None:
        self.m.changes_rejected.inc(changes)

    def snapshot_sent(self) -> None:
        self.m.snapshots_sent.inc()

    def heartbeat_ok(self) -> None:
        self.m.last_heartbeat = time.time()


class Operator:
    def __init__(
        self,
        settings: Settings,
        *,
        kinds: KindRegistry | None = None,
        kube: KubeApi | None = None,
    ) -> None:
        self.settings = settings
        self.registry = kinds if kinds is not None else build_plugin_manager().kinds
        self._kube = kube
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.metrics = OperatorMetrics()
        self.threads: list[threading.Thread] = []
        self.watchers: list[KindWatcher] = []
        self.servers: list[HealthServer] = []
        self.elector: LeaseElector | None = None

    # ------------------------------------------------------------ start-up

    def start(self) -> Operator:
        s = self.settings
        kinds = select_kinds(self.registry, s.selection)
        private_key = load_private_key(s.platform.private_key_pem)
        kube = self._kube or KubeApi(
            load_api_client(s.kube.kubeconfig),
            request_timeout=s.kube.request_timeout,
            watch_timeout_seconds=s.kube.watch_timeout_seconds,
        )
        self.kube = kube
        try:
            namespace = kube.get("/api/v1/namespaces/kube-system")
        except KubeApiError as exc:
            raise StartupError(f"cannot read the kube-system namespace: {exc}") from None
        self.cluster = ClusterIdentity(
            cluster_uid=str(namespace["metadata"]["uid"]),
            cluster_name=s.cluster_name,
            agent_version=s.agent_version,
            kubernetes_version=kubernetes_version(kube),
        )
        kinds = self._apply_data_hashes(kube, kinds)

        self.tokens = TokenManager(
            platform_url=s.platform.url,
            client_id=s.platform.client_id,
            private_key=private_key,
            timeout=s.platform.request_timeout,
        )
        try:
            self.tokens.token()
        except PlatformUnavailable as exc:
            # An outage must not stop us from starting: we catch up when it is back.
            log.warning("platform unreachable at start; will keep trying", error=str(exc))

        self.cache = LocalCache(k.kind for k in kinds)
        self.metrics.watch_cache(self.cache.counts)
        self.queue = CoalescingQueue(on_coalesced=self.metrics.changes_coalesced.inc)
        self.metrics.queue_depth.set_function(lambda: len(self.queue))
        may_ship = self._leadership()
        self.features = PlatformFeatures()  # what the platform showed it speaks, learnt by both
        self.shipper = Shipper(
            client=self._platform_client(),
            cache=self.cache,
            snapshot_keys={k.kind: k.snapshot_key for k in kinds},
            queue=self.queue,
            cluster=self.cluster,
            settings=s.shipping,
            stop=self.stop_event,
            may_ship=may_ship,
            metrics=_ShippingMetrics(self.metrics),
            features=self.features,
        )
        self.heartbeat = HeartbeatLoop(
            client=self._platform_client(),
            cache=self.cache,
            cluster=self.cluster,
            interval=s.shipping.heartbeat_interval,
            stop=self.stop_event,
            on_resync=self.shipper.request_snapshot,
            include_digests=self.ready.is_set,
            may_ship=may_ship,
            metrics=_ShippingMetrics(self.metrics),
            features=self.features,
        )
        scopes = [(kind, scope) for kind in kinds for scope in watch_scopes(kind, s.selection)]
        sink = _QueueSink(
            queue=self.queue,
            watchers=len(scopes),
            metrics=self.metrics,
            on_all_synced=self._all_synced,
        )
        namespaces = NamespaceFilter(s.selection.namespaces, s.selection.exclude_namespaces)
        for kind, scope in scopes:
            self.watchers.append(
                KindWatcher(
                    kind=kind.kind,
                    path=collection_path(kind.group, kind.version, kind.plural, scope),
                    api=kube,
                    extract=kind.extract,
                    cache=self.cache[kind.kind],
                    sink=sink,
                    stop=self.stop_event,
                    namespaces=namespaces,
                    namespace=scope,
                    page_size=s.kube.list_page_size,
                )
            )
        self._start_servers()
        for watcher in self.watchers:
            suffix = f"-{watcher.namespace}" if watcher.namespace else ""
            self._spawn(f"watch-{watcher.kind}{suffix}", watcher.run)
        if not self.watchers:  # nothing to list (every namespace excluded): empty is complete
            self._all_synced()
        self._spawn("shipper", self.shipper.run)
        self._spawn("heartbeat", self.heartbeat.run)
        if self.elector is not None:
            elector = self.elector
            self._spawn(
                "leader-election",
                lambda: elector.run(
                    self.stop_event,
                    on_started_leading=self.shipper.request_snapshot,
                    on_stopped_leading=self.queue.wake,
                ),
            )
        log.info(
            "operator started",
            cluster_uid=self.cluster.cluster_uid,
            cluster_name=s.cluster_name,
            kinds=len(kinds),
        )
        return self

    def _apply_data_hashes(self, kube: KubeApi, kinds: list[ResourceKind]) -> list[ResourceKind]:
        config = self.settings.data_hashes
        if not config.enabled or not any(k.data_hash_extractor for k in kinds):
            return kinds
        key_secret = SecretRef(config.namespace, config.secret_name)
        try:
            key = load_or_create_hmac_key(kube, namespace=config.namespace, name=config.secret_name)
            return [with_data_hashes(k, key, key_secret=key_secret) for k in kinds]
        except (KubeApiError, SecretError, ValueError) as exc:
            # The extension is optional: upstream's record (key names only) is still correct.
            log.warning(
                "data hashes disabled: no usable key in secret",
                secret=f"{config.namespace}/{config.secret_name}",
                error=str(exc),
            )
            return kinds

    def _leadership(self) -> Callable[[], bool]:
        leader = self.settings.leader
        if not leader.enabled:
            return lambda: True
        self.elector = LeaseElector(
            api=self.kube,
            namespace=leader.namespace,
            name=leader.name,
            identity=leader.identity or f"{socket.gethostname()}-{os.getpid()}",
            lease_duration=leader.lease_duration,
            renew_deadline=leader.renew_deadline,
            retry_period=leader.retry_period,
        )
        return self.elector.is_leader.is_set

    def _platform_client(self) -> PlatformClient:
        # One session per thread: requests.Session is not meant to be shared across threads.
        return PlatformClient(
            base_url=self.settings.platform.url,
            tokens=self.tokens,
            session=requests.Session(),
            timeout=self.settings.platform.request_timeout,
            observe=self.metrics.observe_request,
        )

    def _start_servers(self) -> None:
        s = self.settings
        if s.health_port is not None and s.health_port == s.metrics_port and s.health_port != 0:
            self.servers.append(
                HealthServer(
                    port=s.health_port,
                    alive=self.alive,
                    ready=self.ready.is_set,
                    registry=self.metrics.registry,
                ).start()
            )
            return
        if s.health_port is not None:
            self.servers.append(
                HealthServer(port=s.health_port, alive=self.alive, ready=self.ready.is_set).start()
            )
        if s.metrics_port is not None:
            self.servers.append(
                HealthServer(port=s.metrics_port, registry=self.metrics.registry).start()
            )

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _all_synced(self) -> None:
        self.ready.set()
        self.shipper.mark_ready()
        log.info("initial sync complete")

    # ------------------------------------------------------------ running

    def alive(self) -> bool:
        """Every thread we started is still running (the platform's state is irrelevant)."""
        return not self.stop_event.is_set() and all(t.is_alive() for t in self.threads)

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for watcher in self.watchers:
            watcher.interrupt()
        if hasattr(self, "queue"):
            self.queue.wake()
        for thread in self.threads:
            thread.join(timeout)
        for server in self.servers:
            server.stop()
        log.info("operator stopped")


__all__ = ["CredentialError", "Operator", "StartupError", "select_kinds"]
