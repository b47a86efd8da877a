"""The operator's LIST of 100,000 Pods against the official client's model deserialisation.

Serves N realistic Pods (``obsyk_plugins.core_kinds.testing.samples``, as the API
server returns them: managedFields, status, env values) from pre-serialised
pages on a local HTTP server, then LISTs them all, page by page with the same
page size, in a fresh subprocess per path so each peak RSS is that path's own:

* ``ours``: ``KindWatcher.relist`` (raw JSON + orjson, extract, hash, local cache);
* ``models``: ``CoreV1Api.list_pod_for_all_namespaces``, default model
  deserialisation, every ``V1Pod`` held by uid like an informer's store.

Targets: ``ours`` peak RSS <= 256 MiB and >= 5x faster than ``models``.
Prints one JSON object.  ``--quick`` runs small sizes for a smoke run.

``--snapshot`` (implies ``--skip-models``): after our LIST, the operator sends
the cache as a snapshot to a platform that drops what it reads
(``_op_sink.py``), twice: to one that speaks our extensions (chunks) and to an
upstream-only one (one body); the peak RSS of each send is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _op_pages import PageServer, realistic_pods, serialise_pages
from _op_sink import SnapshotSink
from machine_info import machine_info

DEFAULT_PODS = 100_000
QUICK_PODS = 5_000
PAGE_SIZE = 500
CHILD = Path(__file__).with_name("_op_list_child.py")
RSS_TARGET_MIB = 256
SPEED_TARGET = 5.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, help=f"Pods in the LIST (default {DEFAULT_PODS})")
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--skip-models", action="store_true", help="measure only our path (the slow one is models)"
    )
    parser.add_argument(
        "--snapshot", action="store_true", help="measure sending the cache as a snapshot"
    )
    parser.add_argument(
        "--collector-rounds",
        type=int,
        default=0,
        help="also LIST our way N times with and N without the collector pause, interleaved",
    )
    args = parser.parse_args(argv)
    if args.snapshot:
        args.skip_models = True
    if args.pods is None:
        args.pods = QUICK_PODS if args.quick else DEFAULT_PODS
    if args.pods < 1 or args.page_size < 1:
        parser.error("sizes must be positive")
    return args


def list_in_subprocess(
    path: str, url: str, page_size: int, sink_url: str | None = None
) -> dict[str, Any]:
    """Run one path in a fresh interpreter; its JSON line is the last line it prints."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(CHILD), path, url, str(page_size), *([sink_url] if sink_url else [])],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{path} LIST failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def snapshot_run(url: str, args: argparse.Namespace, *, extensions: bool) -> dict[str, Any]:
    """LIST in a fresh child, then send the snapshot to a sink; the send's own numbers."""
    with SnapshotSink(extensions=extensions) as sink:
        listed = list_in_subprocess("ours", url, args.page_size, sink.url)
        return {
            **listed["snapshot"],
            "list_peak_rss_mib": listed["peak_rss_mib"],
            "bodies": sink.bodies,
            "body_bytes": sink.body_bytes,
            "largest_body_bytes": sink.largest_body,
        }


def collector_ab(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Our LIST with the per-page collector pause and without it, interleaved; best of each."""
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "ours_collector_on": []}
    for round_number in range(args.collector_rounds):
        order = list(runs) if round_number % 2 == 0 else list(reversed(runs))
        for path in order:
            runs[path].append(list_in_subprocess(path, url, args.page_size))
    best = {
        path: {
            "seconds": min(r["seconds"] for r in results),
            "all_seconds": [r["seconds"] for r in results],
            "cpu_us_per_object": min(r["cpu_us_per_object"] for r in results),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in results),
        }
        for path, results in runs.items()
    }
    paused, on = best["ours"], best["ours_collector_on"]
    return {
        **best,
        "gain_wall_on_over_paused": round(on["seconds"] / paused["seconds"], 3),
        "gain_cpu_on_over_paused": round(on["cpu_us_per_object"] / paused["cpu_us_per_object"], 3),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    pages = serialise_pages(realistic_pods(args.pods), args.page_size)
    build_seconds = time.perf_counter() - start
    list_bytes = sum(len(page) for page in pages)
    results: dict[str, Any] = {}
    with PageServer(pages, args.page_size) as server:
        for path in ("ours",) if args.skip_models else ("ours", "models"):
            served = server.served
            results[path] = list_in_subprocess(path, server.url, args.page_size)
            results[path]["pages_fetched"] = server.served - served
            if results[path]["objects"] != args.pods:
                raise RuntimeError(f"{path} holds {results[path]['objects']} of {args.pods} Pods")
        if args.collector_rounds:
            results["collector"] = collector_ab(server.url, args)
        if args.snapshot:
            results["snapshots"] = {
                mode: snapshot_run(server.url, args, extensions=mode == "chunked")
                for mode in ("chunked", "one_body")
            }
    ours = results["ours"]
    report: dict[str, Any] = {
        "benchmark": "operator_list",
        "machine": machine_info(load_average=list(os.getloadavg())),
        "pods": args.pods,
        "page_size": args.page_size,
        "pages": len(pages),
        "list_bytes": list_bytes,
        "mean_pod_bytes": round(list_bytes / args.pods),
        "build_seconds": round(build_seconds, 3),
        "ours": ours,
        "targets": {
            "ours_peak_rss_mib": RSS_TARGET_MIB,
            "rss_met": ours["peak_rss_mib"] <= RSS_TARGET_MIB,
        },
    }
    if "snapshots" in results:
        report["snapshots"] = results["snapshots"]
    if "collector" in results:
        report["collector_pause"] = results["collector"]
    if "models" in results:
        models = results["models"]
        speedup = round(models["seconds"] / ours["seconds"], 2)
        report["models"] = models
        report["speedup_ours_over_models"] = speedup
        report["rss_ratio_models_over_ours"] = round(
            models["peak_rss_mib"] / ours["peak_rss_mib"], 2
        )
        report["targets"].update(speedup=SPEED_TARGET, speedup_met=speedup >= SPEED_TARGET)
    return report


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
