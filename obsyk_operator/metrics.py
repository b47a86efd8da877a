"""Prometheus metrics of one operator (its own registry, so tests can run several)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _ObjectsCollector(Collector):
    """Objects per kind, read from the local cache at scrape time (never stale)."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "obsyk_operator_objects", "Objects in the local cache, per kind", labels=["kind"]
        )
        for kind, count in sorted(self._counts().items()):
            family.add_metric([kind], count)
        yield family


class _KindStatesCollector(Collector):
    """1 for each kind's current state (watched, not_served, forbidden), read at scrape time."""

    def __init__(self, states: Callable[[], dict[str, str]]) -> None:
        self._states = states

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "obsyk_operator_kind_state",
            "Whether each kind is watched, or skipped because the cluster does not serve it "
            "(not_served) or RBAC forbids listing it (forbidden)",
            labels=["kind", "state"],
        )
        for kind, state in sorted(self._states().items()):
            family.add_metric([kind, state], 1)
        yield family


class OperatorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.changes_queued = Counter(
            "obsyk_operator_changes_queued", "Changes put on the send queue", ["kind"], registry=r
        )
        self.changes_sent = Counter(
            "obsyk_operator_changes_sent", "Changes the platform accepted", registry=r
        )
        self.changes_coalesced = Counter(
            "obsyk_operator_changes_coalesced",
            "Changes replaced by a newer change of the same object before being sent",
            registry=r,
        )
        self.changes_rejected = Counter(
            "obsyk_operator_changes_rejected",
            "Changes the platform refused for good (4xx)",
            registry=r,
        )
        self.send_seconds = Histogram(
            "obsyk_operator_send_seconds", "Platform request latency", ["endpoint"], registry=r
        )
        self.errors = Counter(
            "obsyk_operator_platform_errors",
            "Failed platform requests by status (0: network error)",
            ["endpoint", "status"],
            registry=r,
        )
        self.snapshots_sent = Counter(
            "obsyk_operator_snapshots_sent", "Complete snapshots accepted", registry=r
        )
        self.last_heartbeat = 0.0
        heartbeat_age = Gauge(
            "obsyk_operator_seconds_since_last_heartbeat",
            "Seconds since the platform last accepted a heartbeat (-1: never)",
            registry=r,
        )
        heartbeat_age.set_function(
            lambda: time.time() - self.last_heartbeat if self.last_heartbeat else -1.0
        )
        self.queue_depth = Gauge(
            "obsyk_operator_queue_depth", "Objects with a change waiting to be sent", registry=r
        )

    def watch_cache(self, counts: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_ObjectsCollector(counts))

    def watch_kind_states(self, states: Callable[[], dict[str, str]]) -> None:
        self.registry.register(_KindStatesCollector(states))

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        endpoint = path.rsplit("/", 1)[-1]
        self.send_seconds.labels(endpoint).observe(seconds)
        if not 200 <= status < 300:
            self.errors.labels(endpoint, str(status)).inc()
