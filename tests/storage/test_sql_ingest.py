"""Ingestion on the SQL backend: the PostgreSQL bulk path and per-cluster serialisation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from obsyk_core.ingest import IncomingResource
from obsyk_core.storage import ChangeSet, ChangeType, ResourceRow, Storage
from obsyk_core.testing.builders import added, at, deleted, events, modified, pod, snapshot
from obsyk_plugins.sql_storage import open_sql_storage

StorageFactory = Callable[[], Storage]


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    factory: StorageFactory = request.getfixturevalue(f"{request.param}_storage_factory")
    opened = factory()
    yield opened
    opened.close()


def _cluster(storage: Storage, name: str = "prod") -> str:
    org = storage.get_org("acme") or storage.create_org("acme")
    return storage.create_cluster(org.id, name).id


def _row(storage: Storage, cluster_id: str, uid: str) -> ResourceRow:
    row = storage.get_resource(cluster_id, uid)
    assert row is not None, f"{uid} is not stored"
    return row


def test_bulk_snapshot_then_changes_keep_first_seen_and_append_history(storage: Storage) -> None:
    cluster = _cluster(storage)
    pods = [pod(f"u{i}", labels={"app": "web"}) for i in range(50)]
    snapshot(storage, cluster, at(0), {"Pod": pods})
    # Second snapshot: one changed, one new, one gone, the rest identical.
    second = [pod("u0", image="nginx:1.26"), *pods[1:49], pod("u-new")]
    result = snapshot(storage, cluster, at(10), {"Pod": second})

    assert (result.added, result.modified, result.deleted, result.unchanged) == (1, 1, 1, 48)
    changed = _row(storage, cluster, "u0")
    assert (changed.first_seen_at, changed.updated_at) == (at(0), at(10))
    assert changed.record["containers"][0]["image"] == "nginx:1.26"
    assert _row(storage, cluster, "u49").deleted_at == at(10)
    assert _row(storage, cluster, "u-new").first_seen_at == at(10)
    assert [v.change for v in storage.resource_history(cluster, "u0")] == [
        ChangeType.ADDED,
        ChangeType.MODIFIED,
    ]
    gone = storage.resource_history(cluster, "u49")
    assert [(v.change, v.record is None) for v in gone] == [
        (ChangeType.ADDED, False),
        (ChangeType.DELETED, True),
    ]
    assert storage.resource_history(cluster, "u3")[0].record == pods[3].record


def test_same_uid_many_times_in_one_batch_keeps_every_version_in_order(storage: Storage) -> None:
    cluster = _cluster(storage)
    v1, v2, v3 = (pod("u1", image=f"app:{n}") for n in (1, 2, 3))
    events(
        storage,
        cluster,
        at(0),
        added(v1, seq=1),
        modified(v2, seq=2),
        deleted(v2, seq=3),
        added(v3, seq=4),
    )
    history = storage.resource_history(cluster, "u1")
    assert [v.change for v in history] == [
        ChangeType.ADDED,
        ChangeType.MODIFIED,
        ChangeType.DELETED,
        ChangeType.ADDED,
    ]
    assert [v.content_hash for v in history] == [
        v1.content_hash,
        v2.content_hash,
        v2.content_hash,
        v3.content_hash,
    ]
    assert history[-1].record == v3.record
    row = _row(storage, cluster, "u1")
    assert (row.deleted_at, row.content_hash) == (None, v3.content_hash)


def test_two_writes_in_one_transaction_both_land(storage: Storage) -> None:
    cluster = _cluster(storage)
    first, second = pod("a"), pod("b")
    with storage.ingest(cluster) as tx:
        tx.write(ChangeSet(upserts=[_new_row(cluster, first)]))
        tx.write(ChangeSet(upserts=[_new_row(cluster, second)]))
        tx.write(ChangeSet(upserts=[_new_row(cluster, pod("a", image="other"))]))
    assert _row(storage, cluster, "a").record["containers"][0]["image"] == "other"
    assert _row(storage, cluster, "b").record == second.record


def test_uid_unseen_by_a_narrowed_load_is_still_upserted(storage: Storage) -> None:
    # load_states(kinds=...) cannot see a uid stored under another kind; the
    # PostgreSQL fast path assumes "new" and must fall back to merging.
    cluster = _cluster(storage)
    with storage.ingest(cluster) as tx:
        tx.write(ChangeSet(upserts=[_new_row(cluster, pod("shared"))]))
    replacement = IncomingResource.from_record("Service", {"uid": "shared", "name": "svc"})
    with storage.ingest(cluster) as tx:
        assert tx.load_states(kinds=["Service"]) == {}
        tx.write(ChangeSet(upserts=[_new_row(cluster, replacement, minutes=5)]))
    row = _row(storage, cluster, "shared")
    assert (row.kind, row.name, row.first_seen_at) == ("Service", "svc", at(0))


def test_an_exception_inside_ingest_writes_nothing(storage: Storage) -> None:
    cluster = _cluster(storage)
    with pytest.raises(RuntimeError, match="boom"), storage.ingest(cluster) as tx:
        tx.write(ChangeSet(upserts=[_new_row(cluster, pod("lost"))]))
        raise RuntimeError("boom")
    assert storage.get_resource(cluster, "lost") is None
    assert storage.resource_history(cluster, "lost") == []


def test_ingest_into_an_unknown_cluster_is_refused(storage: Storage) -> None:
    _cluster(storage)
    with pytest.raises(LookupError), storage.ingest("no-such-cluster"):
        pass


def test_concurrent_ingestion_of_one_cluster_loses_no_update(storage: Storage) -> None:
    """Read-modify-write inside ingest(): serialised per cluster, so every increment counts."""
    cluster = _cluster(storage)
    with storage.ingest(cluster) as tx:
        tx.write(ChangeSet(upserts=[_counter_row(cluster, 0)]))
    errors: list[BaseException] = []

    def increment_five_times() -> None:
        try:
            for _ in range(5):
                with storage.ingest(cluster) as tx:
                    count = int(tx.load_states(uids=["counter"])["counter"].name)
                    time.sleep(0.02)  # widen the window a lost update would need
                    tx.write(ChangeSet(upserts=[_counter_row(cluster, count + 1)]))
        except BaseException as error:  # surfaced below, not swallowed
            errors.append(error)

    threads = [threading.Thread(target=increment_five_times) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _row(storage, cluster, "counter").name == "15"


def test_sqlite_file_is_shared_by_two_storages(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    writer, reader = open_sql_storage(url), open_sql_storage(url)
    try:
        writer.migrate()
        org = writer.create_org("acme")
        assert reader.get_org("acme") == org
    finally:
        writer.close()
        reader.close()


def _new_row(cluster_id: str, item: IncomingResource, *, minutes: float = 0) -> ResourceRow:
    return item.as_row(cluster_id, at(minutes))


def _counter_row(cluster_id: str, count: int) -> ResourceRow:
    item = IncomingResource.from_record("ConfigMap", {"uid": "counter", "name": str(count)})
    return _new_row(cluster_id, item)
