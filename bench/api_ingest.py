"""Event ingestion through the production server against a bare Flask endpoint.

Starts the platform with ``obsyk serve`` (gunicorn, 2 workers, gthread) on a
throw-away PostgreSQL database and a namespaced Redis (its own key prefix and
RQ queue name), registers C clusters with their operator credentials,
fetches each an access token from ``POST /oauth/token`` (the JWT bearer grant,
as the operator does) and seeds each with a snapshot of P Pods.  Then, from
client processes on the same machine (``_api_load``: keep-alive connections,
closed loop, one cluster per connection):

* (a) single events, one per request as the upstream operator sends them: a
  ``modified`` Pod whose record really changed (a label carries a counter), so
  every request writes the resource and its history version;
* (a0) the same requests, same client, same gunicorn options, against a bare
  Flask app whose one route answers 200: the ceiling of the stack;
* (b) batches (``{"cluster_uid", "events": [...]}``) of 500 such changes.

Targets: (a) >= 40 % of (a0) in requests/s; (b) >= 10,000 events/s.
Prints one JSON object.  ``--quick`` runs short windows for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import psycopg
import redis
import requests
from _api_db import DEFAULT_ADMIN_URL, percentile, server_version, throwaway_database
from _api_load import REVISION, Connection, drive
from _api_servers import bare_server, free_port, platform_server
from machine_info import machine_info

from obsyk_core import build_plugin_manager

EVENTS_PATH = "/api/v1/agent/events"
WORKERS = 2
THREADS = 8
RATIO_TARGET = 0.40
BATCH_TARGET = 10_000.0
DEFAULT_REDIS_URL = os.environ.get("OBSYK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16, help="single-event clients")
    parser.add_argument("--batch-connections", type=int, default=4, help="batch clients")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--pods", type=int, default=1000, help="Pods per cluster")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--seconds", type=float, help="measured window per run (default 20)")
    parser.add_argument("--warmup", type=float, help="unmeasured start of each run (default 3)")
    parser.add_argument("--quick", action="store_true", help="short windows, for a smoke run")
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 4.0 if args.quick else 20.0
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 3.0
    if args.quick:
        args.pods = min(args.pods, 500)
    if min(args.connections, args.batch_connections, args.batch_size, args.pods) < 1:
        parser.error("sizes must be positive")
    if args.batch_size > args.pods:
        parser.error("--batch-size cannot exceed --pods (a batch changes distinct Pods)")
    return args


# ----------------------------------------------------------------- the data


def pod_records(count: int) -> list[dict[str, Any]]:
    """``count`` extracted Pod records, as the operator sends them."""
    from obsyk_plugins.core_kinds.testing.samples import cluster_counts, synthetic_cluster

    extract = build_plugin_manager().kinds.by_kind("Pod").extract
    total = count
    while cluster_counts(total)["Pod"] < count:
        total += count
    pods = [extract(raw) for kind, raw in synthetic_cluster(total) if kind == "Pod"]
    return pods[:count]


def event(cluster_uid: str, record: dict[str, Any]) -> dict[str, Any]:
    """An upstream ``modified`` event whose record changes with every :data:`REVISION`."""
    changed = {**record, "labels": {**record.get("labels", {}), "bench-rev": REVISION.decode()}}
    return {
        "cluster_uid": cluster_uid,
        "type": "modified",
        "kind": "Pod",
        "uid": record["uid"],
        "name": record["name"],
        "namespace": record["namespace"],
        "object": changed,
    }


def single_event_connections(
    clusters: list[dict[str, str]], pods: list[dict[str, Any]], count: int
) -> list[Connection]:
    return [
        Connection(
            path=EVENTS_PATH,
            headers={"Authorization": f"Bearer {cluster['token']}"},
            templates=[orjson.dumps(event(cluster["uid"], pod)) for pod in pods],
        )
        for cluster in clusters[:count]
    ]


def batch_connections(
    clusters: list[dict[str, str]], pods: list[dict[str, Any]], count: int, size: int
) -> list[Connection]:
    connections = []
    for cluster in clusters[:count]:
        windows = [pods[i : i + size] for i in range(0, len(pods) - size + 1, size)]
        templates = [
            orjson.dumps(
                {"cluster_uid": cluster["uid"], "events": [event(cluster["uid"], p) for p in w]}
            )
            for w in windows
        ]
        connections.append(
            Connection(
                path=EVENTS_PATH,
                headers={"Authorization": f"Bearer {cluster['token']}"},
                templates=templates,
                items_per_request=size,
            )
        )
    return connections


# ----------------------------------------------------------------- the platform


def register_clusters(url: str, count: int) -> list[dict[str, str]]:
    """Schema, an org and ``count`` clusters with operator credentials (library calls)."""
    from reference_app.auth.credentials import register_cluster

    storage = build_plugin_manager().storage.open(url)
    try:
        storage.migrate()
        org = storage.create_org("bench")
        clusters = []
        for index in range(count):
            registration = register_cluster(storage, org.id, f"bench-{index:03d}", None)
            assert registration.private_key_pem is not None
            clusters.append(
                {
                    "id": registration.cluster.id,
                    "client_id": registration.client_id,
                    "private_key": registration.private_key_pem,
                    "uid": str(uuid.uuid4()),  # the kube-system Namespace uid it reports
                }
            )
    finally:
        storage.close()
    return clusters


def connect_operators(base_url: str, clusters: list[dict[str, str]], pods: list[Any]) -> None:
    """Per cluster: an access token from /oauth/token, then a first snapshot of the Pods."""
    from obsyk_operator.tokens import TokenManager, load_private_key

    session = requests.Session()
    for cluster in clusters:
        tokens = TokenManager(
            platform_url=base_url,
            client_id=cluster["client_id"],
            private_key=load_private_key(cluster["private_key"]),
            session=session,
        )
        cluster["token"] = tokens.token()
        body = {"cluster_uid": cluster["uid"], "cluster_name": "bench", "pods": pods}
        response = session.post(
            base_url + "/api/v1/agent/snapshot",
            data=orjson.dumps(body),
            headers={
                "Authorization": f"Bearer {cluster['token']}",
                "Content-Type": "application/json",
            },
            timeout=120,
        )
        if response.status_code != 200 or response.json().get("added") != len(pods):
            raise RuntimeError(f"seed snapshot: {response.status_code} {response.text[:300]}")


def history_versions(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM resource_versions").fetchone()
    return int(row[0]) if row else 0


def forget_redis_keys(redis_url: str, prefix: str, queue_name: str) -> None:
    """Delete only this run's keys: its cache prefix and its RQ queue's."""
    client = redis.Redis.from_url(redis_url)
    try:
        for pattern in (f"{prefix}*", f"rq:*{queue_name}*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


# ----------------------------------------------------------------- the run


def bench_names(tag: str) -> tuple[str, str]:
    """This run's Redis key prefix and RQ queue name."""
    return f"obsyk-bench:{tag}:", f"obsyk-bench-{tag}"


def platform_settings(url: str, redis_url: str, tag: str, instance: Path) -> dict[str, str]:
    """``obsyk serve``'s ``OBSYK_*`` settings for a run: its database, Redis names, no jobs."""
    prefix, queue_name = bench_names(tag)
    return {
        "OBSYK_DATABASE_URL": url,
        "OBSYK_REDIS_URL": f"{redis_url}?prefix={prefix}",
        "OBSYK_QUEUE_NAME": queue_name,
        "OBSYK_SECRET_KEY": f"bench-{tag}",
        "OBSYK_PERIODIC_JOBS": "false",
        "OBSYK_INSTANCE_PATH": str(instance),
    }


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    latencies = result.pop("latencies")
    result["p50_ms"] = percentile(latencies, 0.50)
    result["p99_ms"] = percentile(latencies, 0.99)
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    cluster_count = max(args.connections, args.batch_connections)
    pods = pod_records(args.pods)
    load = {
        "processes": args.processes,
        "warmup_seconds": args.warmup,
        "measure_seconds": args.seconds,
    }
    tag = uuid.uuid4().hex[:10]
    prefix, queue_name = bench_names(tag)
    with tempfile.TemporaryDirectory() as workdir, throwaway_database(args.postgres_url) as url:
        logs = Path(workdir)
        clusters = register_clusters(url, cluster_count)
        settings = platform_settings(url, args.redis_url, tag, logs / "instance")
        try:
            port = free_port()
            settings["OBSYK_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
            with platform_server(settings, port, WORKERS, THREADS, logs / "platform.log") as base:
                connect_operators(base, clusters, pods)
                versions_before = history_versions(url)
                singles = single_event_connections(clusters, pods, args.connections)
                single = summarise(drive("127.0.0.1", port, singles, **load))
                batches = batch_connections(clusters, pods, args.batch_connections, args.batch_size)
                batched = summarise(drive("127.0.0.1", port, batches, **load))
                versions_written = history_versions(url) - versions_before
            bare_port = free_port()
            with bare_server(bare_port, WORKERS, THREADS, logs / "bare.log"):
                bare = summarise(drive("127.0.0.1", bare_port, singles, **load))
            postgres = server_version(url)
        finally:
            forget_redis_keys(args.redis_url, prefix, queue_name)
    ratio = round(single["requests_per_s"] / bare["requests_per_s"], 3)
    return {
        "benchmark": "api_ingest",
        "machine": machine_info(postgresql=postgres, load_average=list(os.getloadavg())),
        "server": f"gunicorn gthread, {WORKERS} workers x {THREADS} threads, access log on",
        "client": "http.client keep-alive, closed loop, on the same 2 cores as the server",
        "clusters": cluster_count,
        "pods_per_cluster": args.pods,
        "mean_event_bytes": round(sum(len(t) for t in singles[0].templates) / len(pods)),
        "a0_bare_flask": bare,
        "a_single_events": single,
        "b_batched_events": {**batched, "batch_size": args.batch_size},
        "history_versions_written": versions_written,
        "ratios": {"a_over_a0": ratio},
        "targets": {
            "a_over_a0": RATIO_TARGET,
            "a_over_a0_met": ratio >= RATIO_TARGET,
            "b_events_per_s": BATCH_TARGET,
            "b_met": batched["items_per_s"] >= BATCH_TARGET,
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
