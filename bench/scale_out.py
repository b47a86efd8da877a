"""Scale-out at full size: ten clusters streaming into two API processes and two workers.

The harness of tests/scale/test_scale_out.py (``scale_out.Platform``, one process
per cluster with a KubeServer, a real operator and churn) at full size: by
default 10 clusters x 10,000 Pods plus the demo objects, churn for 60 s, one API
process and one worker SIGKILLed and restarted at the churn's midpoint.
Reports JSON: versions written per second, time from the restarts and from
the churn's end until every cluster's inventory equals its API server's, CPU
seconds of PostgreSQL (our database's backends), Redis, the API processes and
the workers, whether anything was lost or duplicated, and the load average.

    python bench/scale_out.py [--quick] [--clusters N] [--size N] [--churn SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "scale"), str(ROOT / "tests" / "app")]

ADMIN_URL = os.environ.get("OBSYK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


class CpuMeter:
    """CPU seconds per group of processes, polled: a process that exits keeps its last reading."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, int], float] = {}

    def sample(self, groups: dict[str, list[int]]) -> None:
        for group, pids in groups.items():
            for pid in pids:
                used = cpu_seconds(pid)
                if used:
                    self.seen[(group, pid)] = max(used, self.seen.get((group, pid), 0.0))

    def totals(self, baseline: dict[tuple[str, int], float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for (group, pid), used in self.seen.items():
            out[group] = out.get(group, 0.0) + used - baseline.get((group, pid), 0.0)
        return {group: round(value, 1) for group, value in sorted(out.items())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 clusters x 1,000 Pods, 20 s")
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--churn", type=float, default=60.0)
    parser.add_argument("--relabels", type=int, default=10, help="bulk Pods relabelled per tick")
    args = parser.parse_args()
    if args.quick:
        args.clusters, args.size, args.churn = 3, 1000, 20.0
    # A SIGTERM (a timeout, a Ctrl-C from a supervisor) still stops every process and
    # drops the database below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    import psycopg
    from outages import PrivateRedis
    from scale_out import ClusterPlan, Platform, history_problems, platform_state, start_clusters
    from test_scale_out import register_clusters

    name = f"obsyk_bench_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database_url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    workdir = Path(tempfile.mkdtemp(prefix="obsyk-scale-"))
    redis = PrivateRedis(workdir / "redis")
    redis.start()
    platform = Platform(database_url, redis.url, workdir, api_threads=8)
    meter = CpuMeter()
    processes: list = []
    finish = None

    def groups() -> dict[str, list[int]]:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            backends = [
                row[0]
                for row in admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)
                )
            ]
        return {
            "postgresql": backends,
            "redis": [redis._process.pid] if redis._process else [],
            "api": [pid for n in ("api-1", "api-2") for pid in platform.pids(n)],
            "workers": [pid for n in ("worker-1", "worker-2") for pid in platform.pids(n)],
            "scheduler": platform.pids("scheduler"),
        }

    try:
        platform.start()
        registrations = register_clusters(database_url, workdir, args.clusters)
        plans = [
            ClusterPlan(
                index=n,
                platform_url=platform.url,
                client_id=reg.client_id,
                private_key_pem=reg.private_key_pem,
                workdir=str(workdir),
                size=args.size,
                churn_seconds=args.churn,
                churn_interval=0.2,
                relabels_per_tick=args.relabels,
                resync_interval=3600.0,
                # The operator's default: the drift check (and the resync it asks for
                # under churn) as often as in production, not every 2 s as in the test.
                heartbeat_interval=60.0,
            )
            for n, reg in enumerate(registrations)
        ]
        meter.sample(groups())
        baseline = dict(meter.seen)
        load_before = os.getloadavg()
        started = time.monotonic()
        processes, results, finish = start_clusters(plans)
        restart_at = started + args.churn / 2
        restarted = None
        expected: dict[int, dict] = {}
        while len(expected) < len(plans):
            meter.sample(groups())
            if restarted is None and time.monotonic() >= restart_at:
                for proc in ("api-1", "worker-1"):
                    platform.kill(proc)
                time.sleep(1.0)
                for proc in ("api-1", "worker-1"):
                    platform.restart(proc)
                restarted = time.monotonic()
            while not results.empty():
                index, _uid, state = results.get()
                expected[index] = state
            time.sleep(1.0)
        churn_end = time.monotonic()
        pending = set(range(len(plans)))
        while pending and time.monotonic() - churn_end < 900:
            meter.sample(groups())
            for index in sorted(pending):
                live, _ = platform_state(database_url, registrations[index].cluster.id)
                if live == expected[index]["live"]:
                    pending.discard(index)
            time.sleep(1.0)
        converged = time.monotonic()
        meter.sample(groups())
        lost, duplicated, versions = 0, 0, 0
        for index, reg in enumerate(registrations):
            live, history = platform_state(database_url, reg.cluster.id)
            want = expected[index]["live"]
            lost += len(set(want) ^ set(live)) + sum(
                1 for uid in set(want) & set(live) if want[uid] != live[uid]
            )
            duplicated += len(history_problems(history, expected[index]["changes"]))
            versions += sum(len(v) for v in history.values())
        elapsed = converged - started
        print(
            json.dumps(
                {
                    "benchmark": "scale_out",
                    "clusters": args.clusters,
                    "pods_per_cluster": args.size,
                    "churn_seconds": args.churn,
                    "resources_final": sum(len(e["live"]) for e in expected.values()),
                    "api_server_changes": sum(
                        sum(e["changes"].values()) for e in expected.values()
                    ),
                    "history_versions": versions,
                    "versions_per_second": round(versions / elapsed, 1),
                    "seconds_start_to_converged": round(elapsed, 1),
                    "seconds_restart_to_converged": round(converged - restarted, 1)
                    if restarted
                    else None,
                    "seconds_churn_end_to_converged": round(converged - churn_end, 1),
                    "not_converged_clusters": sorted(pending),
                    "lost_or_wrong": lost,
                    "duplicated_versions": duplicated,
                    "cpu_seconds": meter.totals(baseline),
                    "load_before": [round(x, 2) for x in load_before],
                    "load_after": [round(x, 2) for x in os.getloadavg()],
                },
                indent=2,
            )
        )
    finally:
        if finish is not None:
            finish.set()
        for process in processes:
            process.join(15)
            if process.is_alive():
                process.kill()
        platform.stop()
        redis.kill()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
