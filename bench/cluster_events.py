"""One cluster's single events through ``obsyk serve`` against a bare durable-upsert endpoint.

Starts the platform with ``obsyk serve`` (gunicorn, 2 workers x 8 threads) on
PostgreSQL + Redis, registers ONE cluster, fetches its access token from
``POST /oauth/token`` and seeds it with a snapshot of the Pods.  Then 8
keep-alive connections (``_api_load``, closed loop) send that cluster's single
``modified`` events, each connection its own Pods (unique pods: no two
connections change one object), every event a real change (a resource and a
history version written).  The same requests go, in the same run and
alternately, to a bare Flask app (``_api_durable_app``: same gunicorn options)
doing one ``INSERT ... ON CONFLICT`` and commit per request.  With
``--baseline-tree DIR`` the platform from another checkout (e.g. the code
before a change) is measured too, on the same database and cluster.

Reported per run: requests/s, p50/p99, the server processes' CPU per request
(utime + stime of the gunicorn master and workers, from /proc), and the load
average around it.  Target: platform >= 0.6 of the durable endpoint.
Prints one JSON object.  ``--quick`` runs short windows for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import orjson
from _api_db import DEFAULT_ADMIN_URL, server_version, throwaway_database
from _api_load import Connection, drive
from _api_servers import _env, _gunicorn, free_port
from api_ingest import (
    DEFAULT_REDIS_URL,
    EVENTS_PATH,
    bench_names,
    connect_operators,
    event,
    forget_redis_keys,
    platform_settings,
    pod_records,
    register_clusters,
    summarise,
)
from machine_info import machine_info

WORKERS = 2
THREADS = 8
RATIO_TARGET = 0.6
DURABLE_APP = Path(__file__).with_name("_api_durable_app.py")
_TICKS = os.sysconf("SC_CLK_TCK")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--pods-per-connection", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each server")
    parser.add_argument("--seconds", type=float, help="measured window per run (default 15)")
    parser.add_argument("--warmup", type=float, help="unmeasured start of each run (default 3)")
    parser.add_argument("--quick", action="store_true", help="short windows, one round")
    parser.add_argument("--baseline-tree", help="also measure the platform of this checkout")
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 4.0 if args.quick else 15.0
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 3.0
    if args.quick:
        args.rounds = 1
    return args


# ----------------------------------------------------------------- CPU of a server


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


@contextmanager
def _server(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    with _gunicorn(command, env, port, log) as url:
        yield url


def _measure(port: int, connections: list[Connection], args: argparse.Namespace) -> dict[str, Any]:
    masters = [pid for pid in _children(os.getpid()) if str(port) in _cmdline(pid)]
    pids = masters + [child for master in masters for child in _children(master)]
    # drive() starts its connections 3 s from now; the CPU is read over the
    # measured window only, by a thread waking at its start and end.
    start = time.time() + 3.0 + args.warmup
    samples: list[float] = []

    def sample() -> None:
        for moment in (start, start + args.seconds):
            time.sleep(max(0.0, moment - time.time()))
            samples.append(_cpu_seconds(pids))

    sampler = threading.Thread(target=sample)
    sampler.start()
    load_before = os.getloadavg()[0]
    result = summarise(
        drive(
            "127.0.0.1",
            port,
            connections,
            processes=2,
            warmup_seconds=args.warmup,
            measure_seconds=args.seconds,
        )
    )
    sampler.join()
    cpu = samples[1] - samples[0]
    result["server_cpu_ms_per_request"] = round(1000 * cpu / max(result["requests"], 1), 3)
    result["load_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def run(args: argparse.Namespace) -> dict[str, Any]:
    pods = pod_records(args.connections * args.pods_per_connection)
    tag = uuid.uuid4().hex[:10]
    prefix, queue_name = bench_names(tag)
    runs: dict[str, list[dict[str, Any]]] = {"platform": [], "durable": []}
    if args.baseline_tree:
        runs["platform_baseline"] = []
    with tempfile.TemporaryDirectory() as workdir, throwaway_database(args.postgres_url) as url:
        logs = Path(workdir)
        (cluster,) = register_clusters(url, 1)
        settings = platform_settings(url, args.redis_url, tag, logs / "instance")
        ports = {name: free_port() for name in runs}
        serve = [sys.executable, "-m", "reference_app.cli", "serve", "--host", "127.0.0.1"]
        serve += ["--workers", str(WORKERS), "--threads", str(THREADS), "--port"]
        try:
            with ExitStack() as servers:
                for name, port in ports.items():
                    env = _env({**settings, "OBSYK_PUBLIC_URL": f"http://127.0.0.1:{port}"})
                    if name == "durable":
                        command = [sys.executable, str(DURABLE_APP), str(port)]
                        command += [str(WORKERS), str(THREADS), url]
                    else:
                        command = [*serve, str(port)]
                    if name == "platform_baseline":
                        env["PYTHONPATH"] = os.pathsep.join([args.baseline_tree, env["PYTHONPATH"]])
                    servers.enter_context(_server(command, env, port, logs / f"{name}.log"))
                base = f"http://127.0.0.1:{ports['platform']}"
                connect_operators(base, [cluster], pods)
                slices = [
                    pods[i * args.pods_per_connection : (i + 1) * args.pods_per_connection]
                    for i in range(args.connections)
                ]
                connections = [
                    Connection(
                        path=EVENTS_PATH,
                        headers={"Authorization": f"Bearer {cluster['token']}"},
                        templates=[orjson.dumps(event(cluster["uid"], pod)) for pod in mine],
                    )
                    for mine in slices
                ]
                for _ in range(args.rounds):
                    for name, port in ports.items():
                        runs[name].append(_measure(port, connections, args))
                        time.sleep(1.0)
            postgres = server_version(url)
        finally:
            forget_redis_keys(args.redis_url, prefix, queue_name)
    best = {name: max(r["requests_per_s"] for r in results) for name, results in runs.items()}
    ratios = {
        f"{name}_over_durable": round(rate / best["durable"], 3)
        for name, rate in best.items()
        if name != "durable"
    }
    return {
        "benchmark": "cluster_events",
        "machine": machine_info(postgresql=postgres, load_average=list(os.getloadavg())),
        "server": f"gunicorn gthread, {WORKERS} workers x {THREADS} threads, access log on",
        "client": "http.client keep-alive, closed loop, 2 processes on the same 2 cores",
        "connections": args.connections,
        "pods": len(pods),
        "runs": runs,
        "best_requests_per_s": best,
        "ratios": ratios,
        "target": {
            "platform_over_durable": RATIO_TARGET,
            "met": ratios["platform_over_durable"] >= RATIO_TARGET,
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
