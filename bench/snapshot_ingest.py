"""Snapshot ingestion into PostgreSQL: our path against a raw ``COPY`` and a naive ORM loop.

Builds a synthetic cluster of N resources over the 20 core kinds (raw objects
shaped like a real cluster's, projected by each kind's own ``extract``), then,
in a throw-away database on the local server, measures in one run:

* (a)  ``reconcile_snapshot`` of the first snapshot through the SQL storage
  backend (rows and their first history version);
* (a2) the identical snapshot re-sent (everything unchanged; target: >= 2x a);
* (b)  a raw ``COPY`` of the very rows (a) stored into an identical table
  (``LIKE resources INCLUDING ALL`` plus its foreign key): the floor nobody
  beats; also reported into the bare ``LIKE`` clone, which has no foreign key
  (the only baseline of the earlier runs);
* (c)  a naive ORM loop (``session.add`` + ``commit`` per row) on a few thousand rows;
* (d)  the platform's body validation (``parse_snapshot``), on its own.

Prints one JSON object.  ``--quick`` runs small sizes for a smoke run.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
import psycopg
import sqlalchemy as sa
from _api_db import DEFAULT_ADMIN_URL, backend_cpu, cpu_between, throwaway_database
from machine_info import machine_info
from sqlalchemy import orm

from obsyk_core import build_plugin_manager
from obsyk_core.ingest import IncomingResource, reconcile_snapshot
from obsyk_core.kinds import KindRegistry
from obsyk_core.storage import Storage
from obsyk_core.wire import parse_snapshot

DEFAULT_RESOURCES = 100_000
DEFAULT_ORM_ROWS = 5_000
QUICK_RESOURCES = 5_000
QUICK_ORM_ROWS = 500
#: The storage backend's inventory table, the one (b) and (c) clone.
RESOURCES_TABLE = "resources"

T = TypeVar("T")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, help=f"cluster size (default {DEFAULT_RESOURCES})")
    parser.add_argument("--orm-rows", type=int, help=f"rows for (c) (default {DEFAULT_ORM_ROWS})")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_ADMIN_URL,
        help="admin connection used to create and drop the bench database "
        "(default: $OBSYK_BENCH_POSTGRES_URL or the local server's `test` database)",
    )
    args = parser.parse_args(argv)
    if args.resources is None:
        args.resources = QUICK_RESOURCES if args.quick else DEFAULT_RESOURCES
    if args.orm_rows is None:
        args.orm_rows = QUICK_ORM_ROWS if args.quick else DEFAULT_ORM_ROWS
    if args.resources < 1 or args.orm_rows < 1:
        parser.error("sizes must be positive")
    return args


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


# ----------------------------------------------------------------- the snapshot


def synthetic_snapshot_body(resources: int, kinds: KindRegistry) -> dict[str, Any]:
    """A snapshot body as the operator sends it: records grouped by snapshot key."""
    from obsyk_plugins.core_kinds.testing.samples import synthetic_cluster

    body: dict[str, Any] = {"cluster_uid": str(uuid.uuid4()), "cluster_name": "bench"}
    for kind in kinds:
        body[kind.snapshot_key] = []
    for kind_name, raw in synthetic_cluster(resources):
        kind = kinds.by_kind(kind_name)
        body[kind.snapshot_key].append(kind.extract(raw))
    return body


def incoming_resources(
    body: Mapping[str, Any], kinds: KindRegistry
) -> dict[str, list[IncomingResource]]:
    """What (a) reconciles: every carried kind's records, hashed, without validation."""
    resources: dict[str, list[IncomingResource]] = {}
    for key, records in body.items():
        kind = kinds.get_by_snapshot_key(key)
        if kind is not None:
            resources[kind.kind] = [
                IncomingResource.from_record(kind.kind, record) for record in records
            ]
    return resources


# ----------------------------------------------------------------- the database


def clone_resources_table(
    conn: psycopg.Connection[Any], name: str, *, foreign_keys: bool = True
) -> None:
    """An empty table with the columns, types, constraints and indexes of ``resources``.

    ``LIKE ... INCLUDING ALL`` copies everything but foreign keys and the
    table's storage parameters, so those are added from the catalog: every row
    written into ``resources`` is checked against ``clusters`` and laid out
    by its ``fillfactor`` and ``toast_tuple_target`` (migrations 0002-0003),
    and a baseline that skips either is not the same table.
    ``foreign_keys=False`` gives the bare ``LIKE`` clone (storage parameters
    still copied).
    """
    conn.execute(f'CREATE TABLE "{name}" (LIKE "{RESOURCES_TABLE}" INCLUDING ALL)')
    options = conn.execute(
        "SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [RESOURCES_TABLE]
    ).fetchone()
    if options and options[0]:
        conn.execute(f'ALTER TABLE "{name}" SET ({", ".join(options[0])})')
    if foreign_keys:
        constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f'",
            [RESOURCES_TABLE],
        ).fetchall()
        assert constraints, f"{RESOURCES_TABLE} has no foreign key to copy"
        for constraint, definition in constraints:
            conn.execute(f'ALTER TABLE "{name}" ADD CONSTRAINT "{constraint}" {definition}')
    conn.commit()


def copy_baseline(url: str, *, foreign_keys: bool = True) -> tuple[int, float, float]:
    """(b): ``COPY`` the rows our path stored into a clone of the table.

    Returns (rows, seconds, the server's CPU seconds).

    The rows are exported first (not timed), so the timing is the server
    ingesting exactly the rows (a) produced, indexes (and foreign key) and all.
    """
    table = "resources_copy" if foreign_keys else "resources_copy_without_fk"
    with psycopg.connect(url) as conn:
        clone_resources_table(conn, table, foreign_keys=foreign_keys)
        exported = io.BytesIO()
        with conn.cursor().copy(f'COPY "{RESOURCES_TABLE}" TO STDOUT') as copy:
            for block in copy:
                exported.write(block)
        rows = conn.execute(f'SELECT count(*) FROM "{RESOURCES_TABLE}"').fetchone()
        assert rows is not None
        data = exported.getvalue()

        def load() -> None:
            with conn.cursor().copy(f'COPY "{table}" FROM STDIN') as copy:
                view = memoryview(data)
                for offset in range(0, len(view), 1 << 20):
                    copy.write(view[offset : offset + (1 << 20)])
            conn.commit()

        server_before = backend_cpu(url)
        _, seconds = timed(load)
        cpu = cpu_between(server_before, backend_cpu(url))
    return int(rows[0]), seconds, cpu


def naive_orm_inserts(url: str, rows: int) -> tuple[int, float]:
    """(c): one ``session.add`` + ``commit`` per row into a clone of the table; (rows, seconds)."""
    with psycopg.connect(url) as conn:
        clone_resources_table(conn, "resources_orm")
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        metadata = sa.MetaData()
        source = sa.Table(RESOURCES_TABLE, metadata, autoload_with=engine)
        target = sa.Table("resources_orm", metadata, autoload_with=engine)

        class Resource:  # mapped imperatively: the table is whatever the backend made
            def __init__(self, **values: Any) -> None:
                self.__dict__.update(values)

        orm.registry().map_imperatively(Resource, target)
        with engine.connect() as read:
            values = [dict(row._mapping) for row in read.execute(sa.select(source).limit(rows))]

        def insert_each() -> None:
            with orm.Session(engine) as session:
                for row in values:
                    session.add(Resource(**row))
                    session.commit()

        _, seconds = timed(insert_each)
    finally:
        engine.dispose()
    return len(values), seconds


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


# ----------------------------------------------------------------- the run


def run(args: argparse.Namespace) -> dict[str, Any]:
    plugins = build_plugin_manager()
    kinds = plugins.kinds

    body, build_seconds = timed(lambda: synthetic_snapshot_body(args.resources, kinds))
    total = sum(len(v) for k, v in body.items() if kinds.get_by_snapshot_key(k) is not None)
    carried = sum(1 for k, v in body.items() if kinds.get_by_snapshot_key(k) is not None and v)
    encoded = orjson.dumps(body)

    # (d) validation, from the decoded body as the endpoint has it, then JSON decoding alone.
    snapshot, parse_seconds = timed(lambda: parse_snapshot(body, kinds))
    parsed = sum(len(items) for items in snapshot.resources.values())
    assert parsed == total, f"parse_snapshot kept {parsed} of {total} records"
    _, decode_seconds = timed(lambda: orjson.loads(encoded))
    resources = incoming_resources(body, kinds)
    del snapshot

    with throwaway_database(args.postgres_url) as url:
        storage: Storage = plugins.storage.open(url)
        try:
            storage.migrate()
            org = storage.create_org("bench")
            cluster = storage.create_cluster(org.id, "bench")
            first_at = datetime.now(UTC)
            server_before, client_before = backend_cpu(url), time.process_time()
            first, first_seconds = timed(
                lambda: reconcile_snapshot(storage, cluster.id, resources, received_at=first_at)
            )
            first_cpu = {
                "client": time.process_time() - client_before,
                "server": cpu_between(server_before, backend_cpu(url)),
            }
            assert first.added == total, f"first snapshot added {first.added} of {total}"
            again, again_seconds = timed(
                lambda: reconcile_snapshot(
                    storage, cluster.id, resources, received_at=first_at + timedelta(minutes=5)
                )
            )
            assert again.unchanged == total and not again.changed, "re-sent snapshot wrote"
        finally:
            storage.close()
        copied, copy_seconds, copy_cpu = copy_baseline(url)
        _, bare_copy_seconds, _ = copy_baseline(url, foreign_keys=False)
        orm_rows, orm_seconds = naive_orm_inserts(url, args.orm_rows)
        postgres = server_version(url)

    ours = rate(total, first_seconds)
    resent = rate(total, again_seconds)
    baseline = rate(copied, copy_seconds)
    bare_baseline = rate(copied, bare_copy_seconds)
    return {
        "benchmark": "snapshot_ingest",
        "machine": machine_info(postgresql=postgres),
        "resources": total,
        "kinds_carried": carried,
        "body_bytes": len(encoded),
        "mean_record_bytes": round(len(encoded) / total),
        "build_seconds": round(build_seconds, 3),
        "a_first_snapshot": {
            "seconds": round(first_seconds, 3),
            "resources_per_s": ours,
            "cpu_ms_per_1000": {k: round(1e6 * v / total, 1) for k, v in first_cpu.items()},
        },
        "a2_resent_snapshot": {"seconds": round(again_seconds, 3), "resources_per_s": resent},
        "b_copy_baseline": {
            "rows": copied,
            "seconds": round(copy_seconds, 3),
            "resources_per_s": baseline,
            "server_cpu_ms_per_1000": round(1e6 * copy_cpu / copied, 1),
        },
        "b_bare_copy_without_foreign_key": {
            "rows": copied,
            "seconds": round(bare_copy_seconds, 3),
            "resources_per_s": bare_baseline,
        },
        "c_naive_orm": {
            "rows": orm_rows,
            "seconds": round(orm_seconds, 3),
            "resources_per_s": rate(orm_rows, orm_seconds),
        },
        "d_parse_snapshot": {
            "seconds": round(parse_seconds, 3),
            "resources_per_s": rate(total, parse_seconds),
            "json_decode_seconds": round(decode_seconds, 3),
        },
        "ratios": {
            "a_over_b": round(ours / baseline, 3),
            "a_over_b_target": 0.5,
            "a_over_bare_b": round(ours / bare_baseline, 3),
            "a2_over_a": round(resent / ours, 3),
            "a2_over_a_target": 2.0,
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
