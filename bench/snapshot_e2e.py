"""A big snapshot end to end: first byte of the POST to the last resource visible in the API.

Runs the platform as deployed (``obsyk serve`` on PostgreSQL + Redis, and one
``obsyk worker``), registers a cluster, and sends one upstream-shaped snapshot
of N resources (one body, as the upstream operator sends it; above
``async_snapshot_bytes`` it is staged and a job applies it).  Measured, in one
run:

* (e) the time from the first byte of the POST to the moment
  ``GET /api/v1/clusters/<id>`` counts all N live resources (polled every
  20 ms), as a rate of resources per second;
* (b) ``COPY`` of the same records (uid, kind, namespace, name, record as
  JSON) into a plain table with a primary key only, in the same database;
* the ratio e / b (issue 8 target: >= 0.35);
* peak memory (``VmHWM``) and CPU seconds of the API processes (gunicorn
  workers) and the worker process, and the parts of (e): the POST's answer
  and the wait after it.

Prints one JSON object.  ``--quick`` runs 10,000 resources.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg
import requests
from _api_db import DEFAULT_ADMIN_URL, server_version, throwaway_database
from _api_servers import _env, free_port, platform_server, stop
from api_ingest import bench_names, forget_redis_keys, platform_settings, register_clusters
from machine_info import machine_info
from snapshot_ingest import synthetic_snapshot_body

from obsyk_core import build_plugin_manager

DEFAULT_RESOURCES = 100_000
QUICK_RESOURCES = 10_000
TARGET = 0.35
WORKERS, THREADS = 2, 4
POLL_SECONDS = 0.02


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, help=f"default {DEFAULT_RESOURCES}")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RESOURCES} resources")
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--logs", type=Path, help="keep the servers' logs in this directory")
    args = parser.parse_args(argv)
    if args.resources is None:
        args.resources = QUICK_RESOURCES if args.quick else DEFAULT_RESOURCES
    return args


# ----------------------------------------------------------------- processes


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_of_master(own: int) -> set[int]:
    workers: set[int] = set()
    for master in children(own):
        workers.update(children(master))
    return workers


@contextmanager
def platform_worker(settings: dict[str, str], log: Path) -> Iterator[int]:
    """``obsyk worker`` (as deployed) with the platform's settings; yields its pid."""
    command = [sys.executable, "-m", "reference_app.cli", "worker"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=_env(settings), stdout=output, stderr=output)
        try:
            time.sleep(3.0)  # imports and connecting to Redis
            if process.poll() is not None:
                raise RuntimeError(f"worker exited with {process.returncode}")
            yield process.pid
        finally:
            stop(process)


# ----------------------------------------------------------------- the measurements


def viewer_token(url: str, cluster_id: str) -> str:
    """A viewer's API token in the cluster's org, for polling the cluster."""
    from reference_app.auth.api_tokens import grant_api_token

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT org_id FROM clusters WHERE id = %s", [cluster_id]).fetchone()
    assert row is not None
    storage = build_plugin_manager().storage.open(url)
    try:
        return grant_api_token(storage, row[0], "bench@example.com", "viewer").token
    finally:
        storage.close()


def access_token(base_url: str, cluster: dict[str, str]) -> str:
    from obsyk_operator.tokens import TokenManager, load_private_key

    return TokenManager(
        platform_url=base_url,
        client_id=cluster["client_id"],
        private_key=load_private_key(cluster["private_key"]),
        session=requests.Session(),
    ).token()


def end_to_end(
    base_url: str, cluster: dict[str, str], body: bytes, expected: int, user_token: str
) -> dict[str, Any]:
    """(e): POST the snapshot, then poll the cluster until it counts ``expected`` resources."""
    token = access_token(base_url, cluster)
    poll = requests.Session()
    poll.headers["Authorization"] = f"Bearer {user_token}"
    cluster_url = f"{base_url}/api/v1/clusters/{cluster['id']}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start = time.perf_counter()
    answer = requests.post(
        f"{base_url}/api/v1/agent/snapshot", data=body, headers=headers, timeout=600
    )
    answered = time.perf_counter()
    if answer.status_code not in (200, 202):
        raise RuntimeError(f"snapshot: {answer.status_code} {answer.text[:300]}")
    polls = 0
    while True:
        counts = poll.get(cluster_url, timeout=60).json().get("resource_counts") or {}
        polls += 1
        if sum(counts.values()) >= expected:
            break
        if time.perf_counter() - start > 1800:
            raise RuntimeError(f"only {sum(counts.values())} of {expected} visible after 30 min")
        time.sleep(POLL_SECONDS)
    visible = time.perf_counter()
    seconds = visible - start
    return {
        "status": answer.status_code,
        "snapshot_id": answer.json().get("snapshot_id"),
        "answer_seconds": round(answered - start, 3),
        "after_answer_seconds": round(visible - answered, 3),
        "seconds": round(seconds, 3),
        "resources_per_s": round(expected / seconds, 1),
        "polls": polls,
    }


def copy_baseline(url: str, body: dict[str, Any], kinds: Any) -> dict[str, Any]:
    """(b): ``COPY`` the snapshot's records into a plain table with a primary key only."""
    lines = io.BytesIO()
    count = 0
    for key, records in body.items():
        kind = kinds.get_by_snapshot_key(key)
        if kind is None:
            continue
        for record in records:
            document = orjson.dumps(record).decode()
            namespace = record.get("namespace") or "\\N"
            escaped = document.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            lines.write(
                f"{record['uid']}\t{kind.kind}\t{namespace}\t{record['name']}\t{escaped}\n".encode()
            )
            count += 1
    data = lines.getvalue()
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE copy_baseline (uid text PRIMARY KEY, kind text NOT NULL,"
            " namespace text, name text NOT NULL, record jsonb NOT NULL)"
        )
        conn.commit()
        start = time.perf_counter()
        with conn.cursor().copy("COPY copy_baseline FROM STDIN") as copy:
            view = memoryview(data)
            for offset in range(0, len(view), 1 << 20):
                copy.write(view[offset : offset + (1 << 20)])
        conn.commit()
        seconds = time.perf_counter() - start
    return {"rows": count, "seconds": round(seconds, 3), "rows_per_s": round(count / seconds, 1)}


def job_timings(redis_url: str, job_id: str) -> dict[str, float]:
    """The reconcile job's wait in the queue (enqueued to started) and its run, in seconds."""
    import redis
    from rq.job import Job

    from reference_app.jobs.queue import rq_job_id

    connection = redis.Redis.from_url(redis_url)
    try:
        job = Job.fetch(rq_job_id(job_id), connection=connection)
        # Its resources are visible once it commits; it ends a moment later.
        result = job.latest_result(timeout=30)  # rq 3 keeps the run's times with its result
        job.refresh()
        assert result is not None and job.enqueued_at is not None
        started = result.execution_started_at or job.started_at
        assert started is not None
        return {
            "queued_ms": round((started - job.enqueued_at).total_seconds() * 1000, 1),
            "run_seconds": round((result.created_at - started).total_seconds(), 3),
        }
    finally:
        connection.close()


# ----------------------------------------------------------------- the run


def run(args: argparse.Namespace) -> dict[str, Any]:
    kinds = build_plugin_manager().kinds
    snapshot = synthetic_snapshot_body(args.resources, kinds)
    expected = sum(len(v) for k, v in snapshot.items() if kinds.get_by_snapshot_key(k))
    tag = uuid.uuid4().hex[:10]
    prefix, queue_name = bench_names(tag)
    with tempfile.TemporaryDirectory() as workdir, throwaway_database(args.postgres_url) as url:
        logs = args.logs or Path(workdir)
        logs.mkdir(parents=True, exist_ok=True)
        (cluster,) = register_clusters(url, 1)
        snapshot["cluster_uid"] = cluster["uid"]
        body = orjson.dumps(snapshot)
        user_token = viewer_token(url, cluster["id"])
        port = free_port()
        settings = platform_settings(url, args.redis_url, tag, logs / "instance")
        settings["OBSYK_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        try:
            with (
                platform_server(settings, port, WORKERS, THREADS, logs / "platform.log") as base,
                platform_worker(settings, logs / "worker.log") as worker_pid,
            ):
                api_pids = sorted(children_of_master(os.getpid()) - {worker_pid})
                cpu_before = {pid: cpu_seconds(pid) for pid in [*api_pids, worker_pid]}
                ours = end_to_end(base, cluster, body, expected, user_token)
                cpu = {pid: cpu_seconds(pid) - cpu_before[pid] for pid in cpu_before}
                job_id = f"reconcile-staged:{cluster['id']}:{ours.pop('snapshot_id')}"
                ours["job"] = job_timings(args.redis_url, job_id)
                memory = {
                    "api_peak_rss_mib": max(peak_rss_mib(pid) for pid in api_pids),
                    "worker_peak_rss_mib": peak_rss_mib(worker_pid),
                    "api_cpu_seconds": round(sum(cpu[pid] for pid in api_pids), 2),
                    "worker_cpu_seconds": round(cpu[worker_pid], 2),
                }
            baseline = copy_baseline(url, snapshot, kinds)
            postgres = server_version(url)
        finally:
            forget_redis_keys(args.redis_url, prefix, queue_name)
    ratio = round(ours["resources_per_s"] / baseline["rows_per_s"], 3)
    return {
        "benchmark": "snapshot_e2e",
        "machine": machine_info(postgresql=postgres, load_average=list(os.getloadavg())),
        "server": f"obsyk serve (gunicorn gthread, {WORKERS} x {THREADS}) + obsyk worker",
        "resources": expected,
        "body_mib": round(len(body) / 2**20, 1),
        "e_end_to_end": ours,
        "b_copy_plain_table": baseline,
        "processes": memory,
        "ratio_e_over_b": ratio,
        "target": TARGET,
        "met": ratio >= TARGET,
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
