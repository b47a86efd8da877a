"""The platform's record trim (obsyk_core.record_trim): its CPU in ``parse_snapshot``.

On a synthetic cluster of N resources over the 20 core kinds (each projected
by its kind's ``extract``, so nothing is dropped: the common case), parses the
whole snapshot body with the trim and with it replaced by the identity,
interleaved in one run, and prints the best CPU time of each and the Pods'
trim alone per record.  ``--quick`` runs a small cluster.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from typing import Any

from machine_info import machine_info

import obsyk_core.wire as wire
from obsyk_core import build_plugin_manager
from obsyk_core.record_trim import trim_record
from obsyk_plugins.core_kinds.testing.samples import synthetic_cluster


def _identity(schema: Any, record: Any, dropped: Any, *, path: str = "") -> Any:
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    size = 2_000 if args.quick else args.resources
    kinds = build_plugin_manager(distribution="obsyk").kinds
    arrays: dict[str, list[Any]] = defaultdict(list)
    pods = []
    for name, raw in synthetic_cluster(size, seed=5):
        kind = kinds.get(name)
        assert kind is not None
        arrays[kind.snapshot_key].append(kind.extract(raw))
        if name == "Pod":
            pods.append((kind, arrays[kind.snapshot_key][-1]))
    body = {"cluster_uid": "c", **arrays}
    best = {"with_trim": float("inf"), "without_trim": float("inf")}
    for _ in range(args.repeats):
        for mode in best:
            wire.trim_record = trim_record if mode == "with_trim" else _identity  # type: ignore[assignment]
            started = time.process_time()
            wire.parse_snapshot(body, kinds)
            best[mode] = min(best[mode], time.process_time() - started)
    wire.trim_record = trim_record
    dropped: Counter[str] = Counter()
    started = time.process_time()
    for kind, record in pods:
        trim_record(kind.schema, record, dropped, path="Pod.")
    pod_us = (time.process_time() - started) / len(pods) * 1e6
    records = sum(map(len, arrays.values()))
    print(
        json.dumps(
            {
                "machine": machine_info(),
                "records": records,
                "parse_ms": {mode: round(cpu * 1e3, 1) for mode, cpu in best.items()},
                "trim_us_per_record": round(
                    (best["with_trim"] - best["without_trim"]) / records * 1e6, 2
                ),
                "pod_trim_us": round(pod_us, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
