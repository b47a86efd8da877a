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
from obsyk_operator.discovery import NOT_SERVED, WATCHED, KindStates, discover
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


#: Connections kept for requests other than watches (see ``load_api_client``).
_SHORT_REQUEST_CONNECTIONS = 4


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
    """Connects watchers to the queue and tells the operator when a kind's watchers have listed."""

    def __init__(
        self,
        *,
        queue: CoalescingQueue,
        metrics: OperatorMetrics,
        on_kind_synced: Callable[[str], None],
    ) -> None:
        self.queue = queue
        self.metrics = metrics
        self._unsynced: dict[str, int] = {}
        self._lock = threading.Lock()
        self._on_kind_synced = on_kind_synced

    def expect(self, kind: str, watchers: int) -> None:
        """``kind`` is listed by ``watchers`` watchers (none: every namespace excluded)."""
        if watchers:
            with self._lock:
                self._unsynced[kind] = watchers

    def forget(self, kind: str) -> None:
        with self._lock:
            self._unsynced.pop(kind, None)

    @property
    def pending(self) -> bool:
        with self._lock:
            return bool(self._unsynced)

    def publish(self, change: Change) -> None:
        self.queue.put(change)
        self.metrics.changes_queued.labels(change.kind).inc()

    def kind_synced(self, kind: str) -> None:
        with self._lock:
            left = self._unsynced.get(kind, 0) - 1
            if left > 0:
                self._unsynced[kind] = left
                return
            if self._unsynced.pop(kind, None) is None:
                return  # stopped meanwhile
        self._on_kind_synced(kind)


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
        #: The running watchers of each watched kind, their threads, and the kind's stop.
        self._kind_watchers: dict[str, list[tuple[KindWatcher, threading.Thread]]] = {}
        self._kind_stops: dict[str, threading.Event] = {}
        self._kinds_lock = threading.Lock()
        self.servers: list[HealthServer] = []
        self.elector: LeaseElector | None = None

    # ------------------------------------------------------------ start-up

    def start(self) -> Operator:
        s = self.settings
        kinds = select_kinds(self.registry, s.selection)
        private_key = load_private_key(s.platform.private_key_pem)
        # One connection per watch, held for minutes, plus a few for the short requests
        # (discovery, the Lease, the HMAC key Secret) made while every watch is open.
        watches = sum(len(watch_scopes(kind, s.selection)) for kind in kinds)
        kube = self._kube or KubeApi(
            load_api_client(s.kube.kubeconfig, pool_size=watches + _SHORT_REQUEST_CONNECTIONS),
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

        self.kinds = {k.kind: k for k in kinds}
        self.collection_paths = {
            k.kind: [
                collection_path(k.group, k.version, k.plural, scope)
                for scope in watch_scopes(k, s.selection)
            ]
            for k in kinds
        }
        self.kind_states = KindStates(self.kinds)
        self.metrics.watch_kind_states(self.kind_states.states)
        self._discover()
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
            kind_states=self.kind_states,
        )
        self.heartbeat = HeartbeatLoop(
            client=self._platform_client(),
            cache=self.cache,
            cluster=self.cluster,
            interval=s.shipping.heartbeat_interval,
            stop=self.stop_event,
            on_resync=self.shipper.request_snapshot,
            include_digests=self.ready.is_set,
            unsettled=self.shipper.unsettled_kinds,
            changes_put=self.queue.puts_by_kind,
            may_ship=may_ship,
            metrics=_ShippingMetrics(self.metrics),
            features=self.features,
            kind_states=self.kind_states,
            on_accepted=self.shipper.request_snapshot,
        )
        self.sink = _QueueSink(
            queue=self.queue, metrics=self.metrics, on_kind_synced=self._kind_synced
        )
        self.namespace_filter = NamespaceFilter(
            s.selection.namespaces, s.selection.exclude_namespaces
        )
        watched = [kind for kind, state in self.kind_states.states().items() if state == WATCHED]
        for kind_name in watched:  # all expected before any lists, so none completes readiness
            self.sink.expect(kind_name, len(self.collection_paths[kind_name]))
        self._start_servers()
        for kind_name in watched:
            self._start_kind(kind_name)
        if not self.sink.pending:  # nothing to list (every namespace excluded): empty is complete
            self._all_synced()
        self._spawn("shipper", self.shipper.run)
        self._spawn("discovery", self._discovery_loop)
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
            skipped=self.kind_states.skipped() or None,
        )
        return self

    # ------------------------------------------------------------ kinds coming and going

    def _discover(self) -> dict[str, tuple[str, str]]:
        """Ask the cluster which kinds it serves and lets us list; the kinds that changed."""
        try:
            states = discover(self.kube, self.kinds.values(), self.collection_paths)
        except KubeApiError as exc:
            log.warning("kind discovery failed; keeping the kinds as they were", error=str(exc))
            return {}
        return self.kind_states.update(states)

    def _discovery_loop(self) -> None:
        while not self.stop_event.wait(self.settings.kube.discovery_interval):
            self.rediscover()

    def rediscover(self) -> None:
        """Start the kinds that became watchable, stop the ones that did not stay so."""
        for kind_name, (before, after) in sorted(self._discover().items()):
            if after == WATCHED:
                self.sink.expect(kind_name, len(self.collection_paths[kind_name]))
                self._start_kind(kind_name)
                continue  # its snapshot goes when its first LIST is in (_kind_synced)
            if before == WATCHED:
                self._stop_kind(kind_name)
            if after == NOT_SERVED:
                # The API is gone, so are its objects: a snapshot carrying the kind's
                # (now empty) array tombstones what the platform still holds.
                self.shipper.request_snapshot([kind_name])

    def _start_kind(self, kind_name: str) -> None:
        kind = self.kinds[kind_name]
        stop = threading.Event()
        running = []
        for path, scope in zip(
            self.collection_paths[kind_name],
            watch_scopes(kind, self.settings.selection),
            strict=True,
        ):
            watcher = KindWatcher(
                kind=kind_name,
                path=path,
                api=self.kube,
                extract=kind.extract,
                cache=self.cache[kind_name],
                sink=self.sink,
                stop=stop,
                namespaces=self.namespace_filter,
                namespace=scope,
                page_size=self.settings.kube.list_page_size,
            )
            suffix = f"-{scope}" if scope else ""
            thread = threading.Thread(
                target=watcher.run, name=f"watch-{kind_name}{suffix}", daemon=True
            )
            running.append((watcher, thread))
        with self._kinds_lock:
            self._kind_stops[kind_name] = stop
            self._kind_watchers[kind_name] = running
        for _, thread in running:
            thread.start()

    def _stop_kind(self, kind_name: str, timeout: float = 5.0) -> None:
        with self._kinds_lock:
            stop = self._kind_stops.pop(kind_name, None)
            running = self._kind_watchers.pop(kind_name, [])
        self.sink.forget(kind_name)
        if stop is not None:
            stop.set()
        for watcher, thread in running:
            watcher.interrupt()
            thread.join(timeout)
        with self.cache.lock:
            self.cache[kind_name].clear()

    def _kind_synced(self, kind_name: str) -> None:
        if self.ready.is_set():
            # A kind that came later (its CRD installed): its objects are not events
            # yet, only a snapshot of the kind brings them to the platform.
            self.shipper.request_snapshot([kind_name])
        elif not self.sink.pending:
            self._all_synced()

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
                    ready_detail=self.kind_states.skipped,
                    registry=self.metrics.registry,
                ).start()
            )
            return
        if s.health_port is not None:
            self.servers.append(
                HealthServer(
                    port=s.health_port,
                    alive=self.alive,
                    ready=self.ready.is_set,
                    ready_detail=self.kind_states.skipped,
                ).start()
            )
        if s.metrics_port is not None:
            self.servers.append(
                HealthServer(port=s.metrics_port, registry=self.metrics.registry).start()
            )

    @property
    def watchers(self) -> list[KindWatcher]:
        """The running watchers, kind by kind in the order the kinds started."""
        with self._kinds_lock:
            return [watcher for running in self._kind_watchers.values() for watcher, _ in running]

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
        with self._kinds_lock:
            watching = [thread for running in self._kind_watchers.values() for _, thread in running]
        return not self.stop_event.is_set() and all(
            t.is_alive() for t in (*self.threads, *watching)
        )

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        with self._kinds_lock:
            stops = list(self._kind_stops.values())
            running = [pair for pairs in self._kind_watchers.values() for pair in pairs]
        for stop in stops:
            stop.set()
        for watcher, _ in running:
            watcher.interrupt()
        if hasattr(self, "queue"):
            self.queue.wake()
        for thread in [*self.threads, *(thread for _, thread in running)]:
            thread.join(timeout)
        for server in self.servers:
            server.stop()
        log.info("operator stopped")


__all__ = ["CredentialError", "Operator", "StartupError", "select_kinds"]
