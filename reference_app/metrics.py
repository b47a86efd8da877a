"""``/metrics`` in the Prometheus text format (prometheus-client).

Under ``obsyk serve`` each gunicorn worker is a process of its own, so the
metrics live in prometheus-client's multiprocess mode: ``obsyk serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at an empty directory before any worker starts,
every process writes its samples there, and a scrape of any worker adds them
all up.  Without that variable (tests, an embedded app) the process's own
registry is served.

What is measured where:

* requests by route (the URL rule, never the raw path) and status, with
  latency histograms: :func:`init_metrics`'s request hooks;
* ingested changes by kind and change type, snapshot staging and reconcile
  durations: :func:`count_changes` and the ``SNAPSHOT_*`` histograms, called
  by the ingestion paths;
* queue depth, failed jobs per queue and clusters by status: read from Redis
  and the storage when Prometheus scrapes (:class:`PlatformCollector`), so
  every API pod reports the same numbers and the workers need no endpoint.
"""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from obsyk_core.freshness import cluster_status
from obsyk_core.ingest import ResourceChange
from reference_app.state import AppState, get_state

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "obsyk_http_requests_total",
    "HTTP requests answered, by route (URL rule), method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "obsyk_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
INGESTED_CHANGES = Counter(
    "obsyk_ingested_changes_total",
    "Resource changes committed to the inventory, by kind and change (added/modified/deleted).",
    ["kind", "change"],
)
SNAPSHOT_STAGING = Histogram(
    "obsyk_snapshot_staging_seconds",
    "Time to stage one snapshot chunk (or a large snapshot) durably.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SNAPSHOT_RECONCILE = Histogram(
    "obsyk_snapshot_reconcile_seconds",
    "Time to reconcile a snapshot: inline (in the request) or staged (in a job).",
    ["path"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
#: Every metric name a dashboard or alert may query (tests check deploy/monitoring against it).
METRIC_NAMES = frozenset(
    {
        "obsyk_http_requests_total",
        "obsyk_http_request_duration_seconds",
        "obsyk_ingested_changes_total",
        "obsyk_snapshot_staging_seconds",
        "obsyk_snapshot_reconcile_seconds",
        "obsyk_queue_depth",
        "obsyk_queue_failed_jobs",
        "obsyk_clusters",
    }
)


def count_changes(changes: Iterable[ResourceChange]) -> None:
    """Count committed changes (one ``inc`` per kind and change type, not per change)."""
    for (kind, change), count in Tally((c.kind, str(c.change)) for c in changes).items():
        INGESTED_CHANGES.labels(kind, change).inc(count)


class PlatformCollector(Collector):
    """Numbers read when Prometheus scrapes: queue depth, failed jobs, clusters by status."""

    def __init__(self, state: AppState) -> None:
        self._state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._queues()
        clusters = GaugeMetricFamily(
            "obsyk_clusters", "Registered clusters by status.", labels=["status"]
        )
        for status, count in self._clusters_by_status().items():
            clusters.add_metric([status], count)
        yield clusters

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        queue = getattr(self._state.jobs, "queue", None)
        if queue is None:
            return  # the embedded default runs jobs on a thread: no queue to watch
        from rq.registry import FailedJobRegistry

        depth = GaugeMetricFamily(
            "obsyk_queue_depth", "Jobs waiting in the RQ queue.", labels=["queue"]
        )
        depth.add_metric([queue.name], queue.count)
        failed = GaugeMetricFamily(
            "obsyk_queue_failed_jobs",
            "Jobs in the queue's failed registry (they failed and will not retry by themselves).",
            labels=["queue"],
        )
        registry = FailedJobRegistry(queue=queue)
        failed.add_metric([queue.name], registry.count)
        yield depth
        yield failed

    def _clusters_by_status(self) -> dict[str, int]:
        from reference_app.jobs.staleness import all_clusters

        now = datetime.now(UTC)
        threshold = timedelta(seconds=self._state.settings.disconnected_after_seconds)
        counts = {"pending": 0, "connected": 0, "disconnected": 0}
        for cluster in all_clusters(self._state.storage):
            counts[cluster_status(cluster, now, threshold)] += 1
        return counts


def init_metrics(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_observe_request)
    app.add_url_rule("/metrics", "metrics", _metrics_view)


def _start_timer() -> None:
    g.obsyk_started = time.perf_counter()


def _observe_request(response: Response) -> Response:
    started = g.get("obsyk_started")
    if started is not None:
        rule = request.url_rule
        route = rule.rule if rule is not None else "unmatched"
        HTTP_DURATION.labels(route, request.method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    return response


def _metrics_view() -> Response:
    """Every process's samples (multiprocess mode) or this one's, then the platform's gauges."""
    if os.environ.get(MULTIPROC_ENV):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)  # type: ignore[no-untyped-call]
        body = generate_latest(processes)
    else:
        body = generate_latest(REGISTRY)
    platform = CollectorRegistry(auto_describe=False)
    platform.register(PlatformCollector(get_state(current_app)))
    body += generate_latest(platform)
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})
