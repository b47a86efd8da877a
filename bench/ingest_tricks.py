"""Two speed tricks of ingestion, each against the plain way, interleaved in one run.

The tricks: pausing Python's cyclic garbage collector around a bulk request
(as :mod:`obsyk_operator.gc_pause` does; the platform did until
2026-12-05) and the compiled record check that vouches for a
valid record instead of marshmallow (:mod:`obsyk_plugins.fastcheck`, which
sets the core kinds' ``fast_check``).  Each
workload is what an agent endpoint or the staged-snapshot job does with a body,
end to end but for HTTP: decode the JSON bytes, validate (``parse_snapshot`` /
``parse_events``), and write to PostgreSQL through the SQL storage backend
(``reconcile_snapshot`` / ``apply_events``).  HTTP and Flask would add the same
time to every variant, so the gains here are an upper bound of the gains
through the API.

Workloads:

* ``snapshot``: a first snapshot of N resources over the 20 core kinds (into a
  new cluster each pass: every record is added);
* ``batches``: batches of 500 ``modified`` Pod events (each changes the record),
  ``--batches`` of them per pass, against a cluster of those Pods.

Variants, run in rotating order each round so none always goes first:
``both`` (collector paused and the compiled check), ``no_pause``,
``no_fastcheck``, ``plain`` (neither).  Reports per variant the best pass's
wall time, this process's CPU time per operation (a record or an event), the
same plus the CPU of the PostgreSQL backends serving the bench database (the
end-to-end CPU: ``/proc/<pid>/stat`` of the backends), and the rate, then
each trick's gain: ``without / with`` of each measure.  ``--quick`` runs small
sizes for a smoke run.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
from _api_db import DEFAULT_ADMIN_URL, throwaway_database
from api_ingest import pod_records
from machine_info import machine_info
from snapshot_ingest import synthetic_snapshot_body

from obsyk_core import build_plugin_manager
from obsyk_core.ingest import apply_events, reconcile_snapshot
from obsyk_core.kinds import KindRegistry
from obsyk_core.storage import Storage
from obsyk_core.wire import parse_events, parse_snapshot
from obsyk_operator.gc_pause import gc_paused

DEFAULT_RESOURCES = 20_000
QUICK_RESOURCES = 2_000
BATCH_SIZE = 500
VARIANTS = {
    "both": (True, True),
    "no_pause": (False, True),
    "no_fastcheck": (True, False),
    "plain": (False, False),
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--resources", type=int, help=f"snapshot size (default {DEFAULT_RESOURCES})"
    )
    parser.add_argument("--batches", type=int, help="500-event batches per pass (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="passes per variant")
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="comma-separated subset of: " + ", ".join(VARIANTS),
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args(argv)
    args.variants = [name.strip() for name in args.variants.split(",") if name.strip()]
    if unknown := set(args.variants) - set(VARIANTS):
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    if args.resources is None:
        args.resources = QUICK_RESOURCES if args.quick else DEFAULT_RESOURCES
    if args.batches is None:
        args.batches = 2 if args.quick else 10
    return args


def without_fast_checks(kinds: KindRegistry) -> KindRegistry:
    """The same kinds validated by marshmallow alone."""
    plain = KindRegistry()
    for kind in kinds:
        plain.register(dataclasses.replace(kind, fast_check=None))
    return plain


def batch_bodies(cluster_uid: str, pods: list[dict[str, Any]], revision: str) -> list[bytes]:
    """One body per 500 Pods, each event a ``modified`` Pod whose labels carry ``revision``."""
    bodies = []
    for start in range(0, len(pods), BATCH_SIZE):
        events = [
            {
                "type": "modified",
                "kind": "Pod",
                "uid": pod["uid"],
                "name": pod["name"],
                "namespace": pod["namespace"],
                "object": {**pod, "labels": {**pod.get("labels", {}), "bench-rev": revision}},
            }
            for pod in pods[start : start + BATCH_SIZE]
        ]
        bodies.append(orjson.dumps({"cluster_uid": cluster_uid, "events": events}))
    return bodies


_TICKS = os.sysconf("SC_CLK_TCK")


class Backends:
    """CPU seconds used by the PostgreSQL server processes serving the bench database."""

    def __init__(self, url: str) -> None:
        self._admin = psycopg.connect(url, autocommit=True)

    def cpu(self) -> dict[int, float]:
        pids = self._admin.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        used = {}
        for (pid,) in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            used[pid] = (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime
        return used

    def close(self) -> None:
        self._admin.close()


def measured(action: Callable[[], None], backends: Backends) -> tuple[float, float, float]:
    """(wall s, this process's CPU s, the database backends' CPU s) of ``action``.

    Starts from a collected heap.  A backend that appears during ``action``
    counts from zero (it was opened for it).
    """
    gc.collect()
    before = backends.cpu()
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = backends.cpu()
    server = sum(used - before.get(pid, 0.0) for pid, used in after.items())
    return wall, cpu, server


def run(args: argparse.Namespace) -> dict[str, Any]:
    plugins = build_plugin_manager()
    kinds = plugins.kinds
    assert all(kind.fast_check is not None for kind in kinds), "core kinds not accelerated"
    plain_kinds = without_fast_checks(kinds)
    encoded = orjson.dumps(synthetic_snapshot_body(args.resources, kinds))
    records = sum(len(v) for k, v in orjson.loads(encoded).items() if kinds.get_by_snapshot_key(k))
    pods = pod_records(BATCH_SIZE * args.batches)
    gc.collect()
    tracked = len(gc.get_objects())  # what every full collection walks, besides the work
    timings: dict[str, dict[str, list[tuple[float, float, float]]]] = {
        name: {"snapshot": [], "batches": []} for name in args.variants
    }
    with throwaway_database(args.postgres_url) as url:
        storage: Storage = plugins.storage.open(url)
        backends = Backends(url)
        try:
            storage.migrate()
            org = storage.create_org("bench")
            events_cluster = storage.create_cluster(org.id, "events")
            now = datetime.now(UTC)
            seeded = parse_snapshot({"cluster_uid": "seed", "pods": pods}, kinds)
            reconcile_snapshot(storage, events_cluster.id, seeded.resources, received_at=now)
            names = list(args.variants)
            for round_number in range(args.rounds):
                order = names[round_number % len(names) :] + names[: round_number % len(names)]
                for name in order:
                    pause, fast = VARIANTS[name]
                    validating = kinds if fast else plain_kinds
                    cluster = storage.create_cluster(org.id, f"{name}-{round_number}")
                    bodies = batch_bodies("c", pods, f"{name}-{round_number}")

                    def snapshot(
                        cluster_id: str = cluster.id, validating: KindRegistry = validating
                    ) -> None:
                        body = orjson.loads(encoded)
                        parsed = parse_snapshot(body, validating)
                        del body
                        reconcile_snapshot(
                            storage, cluster_id, parsed.resources, received_at=datetime.now(UTC)
                        )

                    def batches(
                        bodies: list[bytes] = bodies,
                        pause: bool = pause,
                        validating: KindRegistry = validating,
                    ) -> None:
                        for raw in bodies:
                            with gc_paused() if pause else nullcontext():
                                body = orjson.loads(raw)
                                _, events = parse_events(body, validating)
                                del body
                                apply_events(
                                    storage,
                                    events_cluster.id,
                                    events,
                                    received_at=datetime.now(UTC),
                                )

                    with gc_paused() if pause else nullcontext():
                        timings[name]["snapshot"].append(measured(snapshot, backends))
                    timings[name]["batches"].append(measured(batches, backends))
                    # Every pass writes into a table of the same size.
                    storage.delete_cluster(org.id, cluster.id)
        finally:
            backends.close()
            storage.close()

    operations = {"snapshot": records, "batches": len(pods)}
    results: dict[str, Any] = {}
    for name, workloads in timings.items():
        results[name] = {}
        for workload, passes in workloads.items():
            wall = min(w for w, _, _ in passes)
            cpu = min(c for _, c, _ in passes)
            # Process and server CPU of the same pass: the end-to-end CPU.
            total = min(c + server for _, c, server in passes)
            count = operations[workload]
            results[name][workload] = {
                "best_wall_s": round(wall, 3),
                "walls_s": [round(w, 3) for w, _, _ in passes],
                "cpu_us_per_op": round(cpu / count * 1e6, 1),
                "cpu_with_postgres_us_per_op": round(total / count * 1e6, 1),
                "per_s": round(count / wall, 1),
            }

    def gains(measure: str) -> dict[str, dict[str, float | None]]:
        def gain(without: str, with_: str, workload: str) -> float | None:
            if without not in results or with_ not in results:
                return None
            ratio = results[without][workload][measure] / results[with_][workload][measure]
            return round(float(ratio), 3)

        return {
            workload: {
                "gc_pause": gain("no_pause", "both", workload),
                "gc_pause_without_fastcheck": gain("plain", "no_fastcheck", workload),
                "fastcheck": gain("no_fastcheck", "both", workload),
                "fastcheck_without_pause": gain("plain", "no_pause", workload),
            }
            for workload in ("snapshot", "batches")
        }

    return {
        "benchmark": "ingest_tricks",
        "machine": machine_info(),
        "snapshot_records": records,
        "batch_events": len(pods),
        "rounds": args.rounds,
        "variants": results,
        "tracked_objects_at_start": tracked,
        "gains_wall_without_over_with": gains("best_wall_s"),
        "gains_cpu_without_over_with": gains("cpu_us_per_op"),
        "gains_cpu_with_postgres_without_over_with": gains("cpu_with_postgres_us_per_op"),
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
