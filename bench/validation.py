"""Record validation on the platform: marshmallow alone against the compiled fast check.

On a synthetic cluster of N resources over the 20 core kinds (raw objects
shaped like a real cluster's, projected by each kind's own ``extract``), and
in one run so the baseline shares the machine's state, measures:

* ``marshmallow``: ``Schema.validate`` per record (what ``ResourceKind.validate``
  did before :mod:`obsyk_plugins.fastcheck`);
* ``fast_path``: ``ResourceKind.validate`` as it is now (compiled predicate,
  marshmallow only when the predicate cannot vouch for a record);
* both on the Pods alone (the biggest records), and on invalid records (a
  dropped ``uid``: the predicate says no, then marshmallow writes the errors);
* ``parse_snapshot`` of the whole body, as the agent endpoint runs it.

Each figure is the best of ``--repeats`` passes, in CPU time of this process
(the work is single-threaded and CPU-bound, so that is its wall time on an
idle machine; on a shared one it keeps other processes' load out of the
ratio).  Prints one JSON object;
``--quick`` runs a small cluster for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from importlib.metadata import version
from typing import Any

import marshmallow
from machine_info import machine_info

from obsyk_core import build_plugin_manager
from obsyk_core.kinds import KindRegistry, ResourceKind
from obsyk_core.wire import parse_snapshot

DEFAULT_RESOURCES = 20_000
QUICK_RESOURCES = 2_000
DEFAULT_REPEATS = 3

Records = list[tuple[ResourceKind, dict[str, Any]]]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, help=f"cluster size (default {DEFAULT_RESOURCES})")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="passes per figure")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RESOURCES} resources")
    args = parser.parse_args(argv)
    if args.resources is None:
        args.resources = QUICK_RESOURCES if args.quick else DEFAULT_RESOURCES
    return args


def cluster_records(total: int, kinds: KindRegistry) -> Records:
    from obsyk_plugins.core_kinds.testing.samples import synthetic_cluster

    records = []
    for kind_name, raw in synthetic_cluster(total):
        kind = kinds.by_kind(kind_name)
        records.append((kind, kind.extract(raw)))
    return records


def best_seconds(action: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        action()
        best = min(best, time.process_time() - start)
    return best


def compare(records: Records, repeats: int) -> dict[str, Any]:
    """Records/s of marshmallow alone and of ``ResourceKind.validate``; both must agree."""
    schemas: dict[type[marshmallow.Schema], marshmallow.Schema] = {}
    for kind, _ in records:
        schemas.setdefault(kind.schema, kind.schema())
    baseline_verdicts = [schemas[kind.schema].validate(record) or None for kind, record in records]
    fast_verdicts = [kind.validate(record) for kind, record in records]
    if fast_verdicts != baseline_verdicts:
        raise AssertionError("the fast path and marshmallow disagree")

    def with_marshmallow() -> None:
        for kind, record in records:
            schemas[kind.schema].validate(record)

    def with_fast_path() -> None:
        for kind, record in records:
            kind.validate(record)

    slow = best_seconds(with_marshmallow, repeats)
    fast = best_seconds(with_fast_path, repeats)
    return {
        "records": len(records),
        "marshmallow_records_per_s": round(len(records) / slow),
        "fast_path_records_per_s": round(len(records) / fast),
        "marshmallow_us_per_record": round(slow / len(records) * 1e6, 2),
        "fast_path_us_per_record": round(fast / len(records) * 1e6, 2),
        "speedup": round(slow / fast, 2),
    }


def snapshot_body(records: Records, kinds: KindRegistry) -> dict[str, Any]:
    body: dict[str, Any] = {"cluster_uid": str(uuid.uuid4()), "cluster_name": "bench"}
    for kind in kinds:
        body[kind.snapshot_key] = []
    for kind, record in records:
        body[kind.snapshot_key].append(record)
    return body


def run(args: argparse.Namespace) -> dict[str, Any]:
    kinds = build_plugin_manager().kinds
    records = cluster_records(args.resources, kinds)
    pods = [(kind, record) for kind, record in records if kind.kind == "Pod"]
    invalid = [
        (kind, {key: value for key, value in record.items() if key != "uid"})
        for kind, record in records[:: max(1, len(records) // 2000)]
    ]
    body = snapshot_body(records, kinds)
    parse_seconds = best_seconds(lambda: parse_snapshot(body, kinds), args.repeats)
    mix = compare(records, args.repeats)
    return {
        "benchmark": "validation",
        "machine": machine_info(marshmallow=version("marshmallow")),
        "resources": len(records),
        "repeats": args.repeats,
        "realistic_mix": mix,
        "pods_only": compare(pods, args.repeats),
        "invalid_records": compare(invalid, args.repeats),
        "parse_snapshot": {
            "seconds": round(parse_seconds, 3),
            "resources_per_s": round(len(records) / parse_seconds),
            "marshmallow_only_validation_seconds_estimate": round(
                len(records) / mix["marshmallow_records_per_s"], 3
            ),
        },
        "target_speedup": 5.0,
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
