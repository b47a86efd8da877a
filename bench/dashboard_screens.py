"""Every API call the dashboard's screens make, timed in the platform at scale.

Loads one cluster of N resources (default 100,000) and, for fleet search, a
fleet of F resources over C clusters (default 1,000,000 over 100; skipped with
``--no-fleet``) into throw-away PostgreSQL databases (``synthetic_cluster`` per
cluster, every object projected by its kind's ``extract``, loaded with one
``COPY`` as in ``api_query.py``), then calls each screen's API requests through
the Flask app in-process (test client, no HTTP server: the time is the
platform's own: auth, validation, queries, serialisation) as a viewer.

For each call: p50/p95/max wall time and the process CPU per call; the target
is p95 < 300 ms.  The attention list and the summary's images are also timed
with the storage's database path against the Python default (``Storage``'s own
method over ``iter_record_fields``), interleaved in the same run.

Prints one JSON object.  ``--quick`` runs small sizes for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import psycopg
from _api_db import DEFAULT_ADMIN_URL, percentile, server_version, throwaway_database
from api_query import bootstrap, load_resources
from machine_info import machine_info

from obsyk_core import build_plugin_manager
from obsyk_core.attention import AttentionRules
from obsyk_core.storage import Storage

P95_TARGET_MS = 300.0
DEFAULT_RESOURCES = 100_000
DEFAULT_FLEET_RESOURCES = 1_000_000
DEFAULT_FLEET_CLUSTERS = 100
DEFAULT_REPEATS = 20
QUICK = {"resources": 10_000, "fleet_resources": 50_000, "fleet_clusters": 10, "repeats": 5}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=DEFAULT_RESOURCES)
    parser.add_argument("--fleet-resources", type=int, default=DEFAULT_FLEET_RESOURCES)
    parser.add_argument("--fleet-clusters", type=int, default=DEFAULT_FLEET_CLUSTERS)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="calls per request")
    parser.add_argument("--no-fleet", action="store_true", help="only the one big cluster")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    return args


@contextmanager
def app_client(url: str) -> Iterator[Any]:
    from reference_app.app import close_app, create_app

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(
            {
                "DATABASE_URL": url,
                "REDIS_URL": "",
                "PERIODIC_JOBS": False,
                "AUTO_MIGRATE": False,
                "INSTANCE_PATH": instance,
                "SECRET_KEY": "bench",
            }
        )
        try:
            yield app
        finally:
            close_app(app)


def sample(url: str, cluster_id: str, kind: str, count: int) -> list[tuple[str, str]]:
    """(uid, name) of ``count`` random live resources of a kind in a cluster."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT uid, name FROM resources WHERE cluster_id = %s AND kind = %s "
            "AND deleted_at IS NULL ORDER BY random() LIMIT %s",
            (cluster_id, kind, count),
        ).fetchall()
    return [(str(uid), str(name)) for uid, name in rows]


def timed(call: Callable[[], Any], repeats: int) -> dict[str, Any]:
    call()  # warm: compiled statements, caches
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(repeats):
        start_cpu, start = time.process_time(), time.perf_counter()
        call()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    p95 = percentile(wall, 0.95)
    return {
        "p50_ms": percentile(wall, 0.50),
        "p95_ms": p95,
        "max_ms": round(max(wall) * 1000, 3),
        "cpu_ms_per_call": round(sum(cpu) / len(cpu) * 1000, 3),
        "met": p95 < P95_TARGET_MS,
    }


def screen_calls(client: Any, headers: dict[str, str], paths: dict[str, list[str]]) -> Any:
    def call(path: str) -> Callable[[], None]:
        def run() -> None:
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.get_data()[:300]!r}")

        return run

    return {screen: [(path, call(path)) for path in calls] for screen, calls in paths.items()}


def cluster_screens(url: str, cluster_id: str, token: str) -> dict[str, list[str]]:
    pods = sample(url, cluster_id, "Pod", 3)
    base = f"/api/v1/clusters/{cluster_id}"
    detail = []
    for uid, _ in pods:
        detail += [f"{base}/resources/{uid}", f"{base}/resources/{uid}/history"]
        detail += [f"{base}/resources/{uid}/related"]
    for kind in ("Deployment", "Service", "ConfigMap", "Node"):
        detail += [f"{base}/resources/{uid}/related" for uid, _ in sample(url, cluster_id, kind, 1)]
    return {
        "overview": ["/api/v1/clusters?limit=500", "/api/v1/kinds", "/api/v1/attention"],
        "cluster": [
            base,
            f"/api/v1/attention?cluster_id={cluster_id}",
            f"/api/v1/summary?cluster_id={cluster_id}",
            f"{base}/resources?kind=Node&limit=20",
        ],
        "explorer": [
            f"{base}/resources?kind=Pod&limit=50",
            f"{base}/resources?{urlencode({'kind': 'Pod', 'q': 'api', 'limit': 50})}",
            f"{base}/resources?"
            + urlencode({"kind": "Pod", "label_selector": "environment=production", "limit": 50}),
            f"{base}/resources?"
            + urlencode({"kind": "Pod", "as_of": datetime.now(UTC).isoformat(), "limit": 50}),
        ],
        "resource": detail,
    }


def fleet_screens() -> dict[str, list[str]]:
    return {
        "overview": ["/api/v1/clusters?limit=500", "/api/v1/attention"],
        "fleet search": [
            "/api/v1/resources?" + urlencode({"q": "payments", "limit": 50}),
            "/api/v1/resources?" + urlencode({"kind": "Pod", "q": "api", "limit": 50}),
            "/api/v1/summary?" + urlencode({"image": "nginx"}),
            "/api/v1/summary",
        ],
    }


def database_vs_python(storage: Storage, cluster_ids: list[str], repeats: int) -> dict[str, Any]:
    """The storage's database path against ``Storage``'s Python default, interleaved."""
    rules = AttentionRules.at(datetime.now(UTC))
    pairs: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "attention": (
            lambda: storage.attention(cluster_ids, rules, limit=201),
            lambda: Storage.attention(storage, cluster_ids, rules, limit=201),
        ),
        "image_usage": (
            lambda: storage.image_usage(cluster_ids, images_limit=200, where_limit=50),
            lambda: Storage.image_usage(storage, cluster_ids, images_limit=200, where_limit=50),
        ),
    }
    results = {}
    for name, (database, python) in pairs.items():
        assert database() == python(), f"{name}: the database and Python answers differ"
        samples: dict[str, list[float]] = {"database": [], "python": []}
        cpu: dict[str, list[float]] = {"database": [], "python": []}
        for _ in range(max(3, repeats // 4)):
            for label, call in (("database", database), ("python", python)):
                start_cpu, start = time.process_time(), time.perf_counter()
                call()
                samples[label].append(time.perf_counter() - start)
                cpu[label].append(time.process_time() - start_cpu)
        results[name] = {
            label: {
                "p50_ms": percentile(samples[label], 0.5),
                "max_ms": round(max(samples[label]) * 1000, 3),
                "app_cpu_ms": round(sum(cpu[label]) / len(cpu[label]) * 1000, 3),
            }
            for label in samples
        }
    return results


def measure(url: str, token: str, cluster_ids: list[str], paths: Any, repeats: int) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    with app_client(url) as app:
        client = app.test_client(use_cookies=False)
        screens = {}
        for screen, calls in screen_calls(client, headers, paths).items():
            screens[screen] = {path: timed(call, repeats) for path, call in calls}
        from reference_app.state import get_state

        compared = database_vs_python(get_state(app).storage, cluster_ids, repeats)
    return screens, compared


def scenario(args: argparse.Namespace, resources: int, clusters: int, fleet: bool) -> Any:
    kinds = build_plugin_manager().kinds
    with throwaway_database(args.postgres_url) as url:
        cluster_ids, token = bootstrap(url, clusters)
        start = time.perf_counter()
        rows, _ = load_resources(url, cluster_ids, resources, kinds, 1)
        load_seconds = round(time.perf_counter() - start, 1)
        paths = fleet_screens() if fleet else cluster_screens(url, cluster_ids[0], token)
        screens, compared = measure(url, token, cluster_ids, paths, args.repeats)
        postgres = server_version(url)
    worst = max(
        (result["p95_ms"], path) for calls in screens.values() for path, result in calls.items()
    )
    return {
        "resources": rows,
        "clusters": clusters,
        "load_seconds": load_seconds,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "postgresql": postgres,
        "screens": screens,
        "database_vs_python": compared,
        "worst_p95": {"ms": worst[0], "call": worst[1], "met": worst[0] < P95_TARGET_MS},
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    random.seed(7)
    report: dict[str, Any] = {
        "benchmark": "dashboard_screens",
        "machine": machine_info(load_average=list(os.getloadavg())),
        "target_p95_ms": P95_TARGET_MS,
        "transport": "Flask test client (no cookie jar), in-process (no HTTP server)",
        "one_cluster": scenario(args, args.resources, 1, fleet=False),
    }
    if not args.no_fleet:
        report["fleet"] = scenario(args, args.fleet_resources, args.fleet_clusters, fleet=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
