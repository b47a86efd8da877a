"""A filtered cluster listing through the API against the same query in raw SQL.

Loads N resources across C clusters (``synthetic_cluster`` per cluster, each
with its own seed, so names, uids, namespaces and labels vary; every object
projected by its kind's own ``extract``) into a throw-away PostgreSQL
database: the schema comes from ``storage.migrate()``, the rows from one
``COPY`` (setup, not measured), the secondary indexes are rebuilt after the
load and the table ANALYZEd.  Then, for many distinct (cluster, namespace,
app) triples taken from the loaded Pods, alternately:

* the API: ``GET /api/v1/clusters/<id>/agents?kind=Pod&namespace=X&label_selector=
  app.kubernetes.io/name=Y&limit=100`` with a user API token, through the
  Flask app in-process (its test client without a cookie jar: no HTTP server
  or socket, so the numbers are the platform's own code: auth, validation,
  query, serialisation);
* raw SQL: the same SELECT (same filters, order and LIMIT 101) through psycopg,
  rows fetched and decoded.

Targets: API p99 <= 3x raw p99, and API p50 < 25 ms.
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
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
import psycopg
from _api_db import DEFAULT_ADMIN_URL, percentile, server_version, throwaway_database
from machine_info import machine_info
from psycopg.types.json import Jsonb

from obsyk_core import build_plugin_manager
from obsyk_core.ingest import IncomingResource
from obsyk_core.kinds import KindRegistry

DEFAULT_RESOURCES = 1_000_000
DEFAULT_CLUSTERS = 100
DEFAULT_QUERIES = 1_000
QUICK_RESOURCES = 100_000
QUICK_CLUSTERS = 10
QUICK_QUERIES = 200
WARMUP_QUERIES = 30
PAGE_LIMIT = 100
LABEL_KEY = "app.kubernetes.io/name"
P50_TARGET_MS = 25.0
P99_RATIO_TARGET = 3.0

COLUMNS = (
    "cluster_id, uid, kind, namespace, name, labels, annotations, record, content_hash, "
    "first_seen_at, updated_at, deleted_at, resource_version, observed_at"
)
#: What the SQL backend sends for this listing, written by hand.
RAW_QUERY = (
    f"SELECT {COLUMNS} FROM resources "
    "WHERE cluster_id = %s AND deleted_at IS NULL AND kind = %s AND namespace = %s "
    "AND labels @> %s ORDER BY kind, namespace, name, cluster_id, uid LIMIT %s"
)

Triple = tuple[str, str, str]  # (cluster_id, namespace, app)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, help=f"total (default {DEFAULT_RESOURCES})")
    parser.add_argument("--clusters", type=int, help=f"clusters (default {DEFAULT_CLUSTERS})")
    parser.add_argument("--queries", type=int, help=f"measured queries (default {DEFAULT_QUERIES})")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args(argv)
    if args.resources is None:
        args.resources = QUICK_RESOURCES if args.quick else DEFAULT_RESOURCES
    if args.clusters is None:
        args.clusters = QUICK_CLUSTERS if args.quick else DEFAULT_CLUSTERS
    if args.queries is None:
        args.queries = QUICK_QUERIES if args.quick else DEFAULT_QUERIES
    if min(args.resources, args.clusters, args.queries) < 1 or args.resources < args.clusters:
        parser.error("sizes must be positive, with at least one resource per cluster")
    return args


# ----------------------------------------------------------------- loading


def bootstrap(url: str, clusters: int) -> tuple[list[str], str]:
    """Schema, one org, ``clusters`` clusters and a viewer's API token: (cluster ids, token)."""
    from reference_app.auth.api_tokens import grant_api_token

    storage = build_plugin_manager().storage.open(url)
    try:
        storage.migrate()
        org = storage.create_org("bench")
        ids = [storage.create_cluster(org.id, f"bench-{i:03d}").id for i in range(clusters)]
        token = grant_api_token(storage, org.id, "bench@example.com", "viewer").token
    finally:
        storage.close()
    return ids, token


def load_resources(
    url: str, cluster_ids: list[str], total: int, kinds: KindRegistry, samples: int
) -> tuple[int, list[Triple]]:
    """COPY ``total`` resources spread over the clusters; (rows, sampled Pod triples)."""
    from obsyk_plugins.core_kinds.testing.samples import synthetic_cluster

    rng = random.Random(42)
    # A reservoir of Pods' (cluster, namespace, app): each triple has at least one match.
    reservoir: list[Triple] = []
    seen_pods = 0
    now = datetime.now(UTC)
    rows = 0
    with psycopg.connect(url) as conn:
        indexes = secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        with conn.cursor().copy(f"COPY resources ({COLUMNS}) FROM STDIN") as copy:
            for index, cluster_id in enumerate(cluster_ids):
                share = total // len(cluster_ids) + (index < total % len(cluster_ids))
                for kind_name, raw in synthetic_cluster(share, seed=index):
                    incoming = IncomingResource.from_record(
                        kind_name, kinds.by_kind(kind_name).extract(raw)
                    )
                    copy.write_row(
                        (
                            *(cluster_id, incoming.uid, kind_name),
                            *(incoming.namespace or "", incoming.name),
                            orjson.dumps(incoming.labels).decode(),
                            orjson.dumps(incoming.annotations).decode(),
                            orjson.dumps(incoming.record).decode(),
                            *(incoming.content_hash, now, now, None),
                            int(raw["metadata"]["resourceVersion"]),
                            now,
                        )
                    )
                    rows += 1
                    if kind_name == "Pod" and LABEL_KEY in incoming.labels:
                        triple = (cluster_id, incoming.namespace or "", incoming.labels[LABEL_KEY])
                        seen_pods += 1
                        if len(reservoir) < samples:
                            reservoir.append(triple)
                        elif (slot := rng.randrange(seen_pods)) < samples:
                            reservoir[slot] = triple
        for _, definition in indexes:
            conn.execute(definition)
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE resources")
    return rows, reservoir


def secondary_indexes(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """The backend's indexes on ``resources`` besides the primary key: (name, CREATE INDEX)."""
    return [
        (str(name), str(definition))
        for name, definition in conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "JOIN pg_index x ON x.indexrelid = (quote_ident(i.indexname))::regclass "
            "WHERE i.tablename = 'resources' AND NOT x.indisprimary"
        ).fetchall()
    ]


# ----------------------------------------------------------------- measuring


def api_path(triple: Triple) -> str:
    cluster_id, namespace, app = triple
    query = {
        "kind": "Pod",
        "namespace": namespace,
        "label_selector": f"{LABEL_KEY}={app}",
        "limit": PAGE_LIMIT,
    }
    return f"/api/v1/clusters/{cluster_id}/agents?{urlencode(query)}"


def raw_params(triple: Triple) -> tuple[Any, ...]:
    cluster_id, namespace, app = triple
    # One more row than the page, as the API asks, to know whether a next page exists.
    return (cluster_id, "Pod", namespace, Jsonb({LABEL_KEY: app}), PAGE_LIMIT + 1)


def measure(url: str, token: str, triples: list[Triple], warmup: list[Triple]) -> dict[str, Any]:
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
        # An API client sends a bearer token and keeps no cookies; the test client's
        # cookie jar would parse each request's URL twice, work no server does.
        client = app.test_client(use_cookies=False)
        headers = {"Authorization": f"Bearer {token}"}
        api_seconds: list[float] = []
        raw_seconds: list[float] = []
        api_cpu = raw_cpu = 0.0
        matched = 0
        try:
            with psycopg.connect(url, autocommit=True) as conn:

                def call_api(triple: Triple) -> int:
                    response = client.get(api_path(triple), headers=headers)
                    if response.status_code != 200:
                        raise RuntimeError(f"{response.status_code}: {response.get_data()[:300]!r}")
                    return len(response.get_json()["items"])

                def call_raw(triple: Triple) -> int:
                    cluster_id, namespace, app_name = triple
                    rows = conn.execute(
                        RAW_QUERY,
                        (
                            cluster_id,
                            "Pod",
                            namespace,
                            Jsonb({LABEL_KEY: app_name}),
                            PAGE_LIMIT + 1,
                        ),
                    ).fetchall()
                    return min(len(rows), PAGE_LIMIT)

                for triple in warmup:
                    call_api(triple)
                    call_raw(triple)
                # Alternating the two spreads the machine's noise evenly over both.
                for triple in triples:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    api_items = call_api(triple)
                    middle, middle_cpu = time.perf_counter(), time.process_time()
                    raw_items = call_raw(triple)
                    end, end_cpu = time.perf_counter(), time.process_time()
                    if api_items != raw_items or api_items == 0:
                        raise RuntimeError(f"{triple}: API {api_items} items, SQL {raw_items}")
                    api_seconds.append(middle - start)
                    raw_seconds.append(end - middle)
                    api_cpu += middle_cpu - start_cpu
                    raw_cpu += end_cpu - middle_cpu
                    matched += api_items
                plan = conn.execute(
                    "EXPLAIN ANALYZE " + RAW_QUERY, raw_params(triples[0])
                ).fetchall()
        finally:
            close_app(app)
    # This process's CPU (the app runs in it; the server's is not counted).
    return {
        "api": {
            **summary(api_seconds),
            "client_cpu_ms_mean": round(1000 * api_cpu / len(triples), 3),
        },
        "raw_sql": {
            **summary(raw_seconds),
            "client_cpu_ms_mean": round(1000 * raw_cpu / len(triples), 3),
        },
        "mean_items_per_query": round(matched / len(triples), 2),
        "raw_plan": [str(row[0]) for row in plan],
    }


def summary(samples: list[float]) -> dict[str, Any]:
    return {
        "queries": len(samples),
        "p50_ms": percentile(samples, 0.50),
        "p90_ms": percentile(samples, 0.90),
        "p99_ms": percentile(samples, 0.99),
        "mean_ms": round(sum(samples) / len(samples) * 1000, 3),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    kinds = build_plugin_manager().kinds
    with throwaway_database(args.postgres_url) as url:
        cluster_ids, token = bootstrap(url, args.clusters)
        start = time.perf_counter()
        rows, triples = load_resources(
            url, cluster_ids, args.resources, kinds, args.queries + WARMUP_QUERIES
        )
        load_seconds = time.perf_counter() - start
        warmup, measured = triples[:WARMUP_QUERIES], triples[WARMUP_QUERIES:]
        results = measure(url, token, measured, warmup)
        postgres = server_version(url)
    api, raw = results["api"], results["raw_sql"]
    ratio = round(api["p99_ms"] / raw["p99_ms"], 2)
    return {
        "benchmark": "api_query",
        "machine": machine_info(postgresql=postgres, load_average=list(os.getloadavg())),
        "resources": rows,
        "clusters": len(cluster_ids),
        "load_seconds": round(load_seconds, 1),
        "api_transport": "Flask test client (no cookie jar), in-process (no HTTP server)",
        **results,
        "ratios": {
            "api_p50_over_raw_p50": round(api["p50_ms"] / raw["p50_ms"], 2),
            "api_p99_over_raw_p99": ratio,
        },
        "targets": {
            "p99_ratio": P99_RATIO_TARGET,
            "p99_ratio_met": ratio <= P99_RATIO_TARGET,
            "api_p50_ms": P50_TARGET_MS,
            "api_p50_met": api["p50_ms"] < P50_TARGET_MS,
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
