"""PostgreSQL's small-write path: a handful of rows as plain statements in pipeline mode.

Single upstream events take this path; batches of ``SMALL_WRITE_ROWS`` rows or
more take the ``COPY`` path.  Both must store the same thing, and a failure
anywhere in the queued statements must leave nothing behind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from obsyk_core.storage import ChangeSet, ChangeType, ClusterSeen, ResourceRow, Storage
from obsyk_core.testing.builders import added, at, events, modified, pod, snapshot
from obsyk_plugins.sql_storage.pg_bulk import SMALL_WRITE_ROWS


@pytest.fixture
def storage(postgres_storage_factory: Callable[[], Storage]) -> Iterator[Storage]:
    opened = postgres_storage_factory()
    yield opened
    opened.close()


def _cluster(storage: Storage) -> str:
    org = storage.get_org("acme") or storage.create_org("acme")
    return storage.create_cluster(org.id, "prod").id


def _last_seen(storage: Storage, cluster_id: str) -> tuple[Any, ...]:
    org = storage.get_org("acme")
    assert org is not None
    stored = storage.get_cluster(org.id, cluster_id)
    assert stored is not None
    return (stored.last_seen_at, stored.last_heartbeat_at, stored.agent_version)


def _new_row(cluster_id: str, uid: str) -> ResourceRow:
    return pod(uid).as_row(cluster_id, at(0))


@pytest.mark.parametrize("changes", [1, SMALL_WRITE_ROWS - 1, SMALL_WRITE_ROWS])
def test_small_and_bulk_event_writes_store_the_same(storage: Storage, changes: int) -> None:
    cluster = _cluster(storage)
    pods = [pod(f"u{i}", labels={"app": "web"}) for i in range(changes)]
    snapshot(storage, cluster, at(0), {"Pod": pods})
    changed = [pod(f"u{i}", labels={"app": "web", "rev": "2"}) for i in range(changes)]
    # Each event changes one resource and appends one version: the last case takes COPY.
    result = events(
        storage,
        cluster,
        at(5),
        *(modified(item, rv=10 + i) for i, item in enumerate(changed)),
        seen=ClusterSeen(seen_at=at(5), agent_version="1.2.3"),
    )

    assert result.modified == changes
    for item in (changed[0], changed[-1]):
        row = storage.get_resource(cluster, item.uid)
        assert row is not None
        assert (row.first_seen_at, row.updated_at, row.labels) == (at(0), at(5), item.labels)
        assert row.record == item.record
        history = storage.resource_history(cluster, item.uid)
        assert [(v.change, v.record) for v in history] == [
            (ChangeType.ADDED, pods[int(item.uid[1:])].record),
            (ChangeType.MODIFIED, item.record),
        ]
    assert _last_seen(storage, cluster) == (at(5), None, "1.2.3")


def test_a_statement_failing_in_the_pipeline_writes_nothing(storage: Storage) -> None:
    cluster = _cluster(storage)
    with pytest.raises(psycopg.errors.ForeignKeyViolation), storage.ingest(cluster) as tx:
        tx.load_states(uids=["kept", "orphan"])
        # The first row is valid; the second names no cluster, so the server refuses it
        # only once the pipeline is synced, after mark_seen was queued too.
        tx.write(ChangeSet(upserts=[_new_row(cluster, "kept"), _new_row("no-such", "orphan")]))
        tx.mark_seen(ClusterSeen(seen_at=at(9)))

    assert storage.get_resource(cluster, "kept") is None
    assert _last_seen(storage, cluster) == (None, None, None)


def test_a_naive_time_is_refused_before_anything_is_sent(storage: Storage) -> None:
    cluster = _cluster(storage)
    naive = _new_row(cluster, "naive")
    naive = dataclasses.replace(naive, observed_at=at(1).replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive datetime"), storage.ingest(cluster) as tx:
        tx.write(ChangeSet(upserts=[_new_row(cluster, "fine"), naive]))
    assert storage.get_resource(cluster, "fine") is None


def test_mark_seen_before_load_states_shares_the_round_trip_and_never_goes_back(
    storage: Storage,
) -> None:
    # The heartbeat's drift check: mark_seen queued first, then the states read.
    cluster = _cluster(storage)
    snapshot(storage, cluster, at(0), {"Pod": [pod("p1")]})
    with storage.ingest(cluster) as tx:
        tx.mark_seen(ClusterSeen(seen_at=at(8), heartbeat_at=at(8)))
        assert set(tx.load_states(kinds=["Pod"])) == {"p1"}
    with storage.ingest(cluster) as tx:
        tx.mark_seen(ClusterSeen(seen_at=at(3), heartbeat_at=at(3)))  # late: ignored
    assert _last_seen(storage, cluster) == (at(8), at(8), None)


def test_an_unknown_cluster_is_refused_even_when_only_writing(storage: Storage) -> None:
    _cluster(storage)
    with pytest.raises(LookupError), storage.ingest("no-such-cluster") as tx:
        tx.mark_seen(ClusterSeen(seen_at=at(1)))


def test_bulk_merges_in_consecutive_transactions_including_after_a_rollback(
    storage: Storage,
) -> None:
    # The COPY path's temporary table lives as long as the database session and
    # is emptied by each commit; a rolled-back transaction must not break the next.
    cluster = _cluster(storage)
    count = SMALL_WRITE_ROWS + 6
    snapshot(storage, cluster, at(0), {"Pod": [pod(f"u{i}") for i in range(count)]})

    def change_all(minute: int) -> None:
        changed = [pod(f"u{i}", labels={"rev": str(minute)}) for i in range(count)]
        result = events(storage, cluster, at(minute), *(modified(item) for item in changed))
        assert result.modified == count

    change_all(1)
    with pytest.raises(RuntimeError, match="boom"), storage.ingest(cluster) as tx:
        tx.load_states()
        tx.write(ChangeSet(upserts=[_new_row(cluster, f"u{i}") for i in range(count)]))
        raise RuntimeError("boom")
    change_all(2)
    change_all(3)

    for uid in ("u0", f"u{count - 1}"):
        row = storage.get_resource(cluster, uid)
        assert row is not None and row.labels == {"rev": "3"}
        assert len(storage.resource_history(cluster, uid)) == 4  # added + three changes


def test_a_bulk_batch_keeps_every_version_in_order_whichever_way_its_rows_are_written(
    storage: Storage,
) -> None:
    # The merge appends each merged row's last version itself; a uid's earlier
    # versions in the batch, a revived uid and a uid new to the cluster (copied
    # straight into the table) must still get their history, in order.
    cluster = _cluster(storage)
    count = SMALL_WRITE_ROWS + 2
    pods = [pod(f"u{i}") for i in range(count)]
    snapshot(storage, cluster, at(0), {"Pod": [*pods, pod("gone")]})
    snapshot(storage, cluster, at(1), {"Pod": pods})
    first, second = pod("u0", labels={"rev": "1"}), pod("u0", labels={"rev": "2"})
    rest = [pod(f"u{i}", labels={"rev": "1"}) for i in range(1, count)]
    batch = [modified(first, seq=0), modified(second, seq=1), added(pod("gone"), seq=2)]
    batch += [added(pod("new"), seq=3)]
    batch += [modified(item, seq=4 + i) for i, item in enumerate(rest)]

    result = events(storage, cluster, at(2), *batch)

    assert (result.added, result.modified) == (2, count + 1)
    expected = {
        "u0": [
            (ChangeType.ADDED, pods[0].record),
            (ChangeType.MODIFIED, first.record),
            (ChangeType.MODIFIED, second.record),
        ],
        "gone": [
            (ChangeType.ADDED, pod("gone").record),
            (ChangeType.DELETED, None),
            (ChangeType.ADDED, pod("gone").record),
        ],
        "new": [(ChangeType.ADDED, pod("new").record)],
        f"u{count - 1}": [
            (ChangeType.ADDED, pods[-1].record),
            (ChangeType.MODIFIED, rest[-1].record),
        ],
    }
    for uid, versions in expected.items():
        history = storage.resource_history(cluster, uid)
        assert [(v.change, v.record) for v in history] == versions, uid
        assert all(v.changed_at == at(2) for v in history[-1:])
    assert storage.get_resource(cluster, "u0").record == second.record  # type: ignore[union-attr]
