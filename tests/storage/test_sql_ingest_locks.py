"""What waits for an open ingestion on PostgreSQL, and what does not.

A snapshot reconcile (``ingest(cluster)``) has the cluster to itself; events
(``ingest(cluster, uids=...)``) share it, waiting only for another change of
the same object; the cluster cannot vanish under either.  An agent's heartbeat
(``mark_cluster_seen``, an ``UPDATE`` of the cluster row) must not queue behind
an ingestion, which may run for a whole 100,000-resource snapshot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from obsyk_core.storage import ChangeSet, ClusterSeen, Storage
from obsyk_core.testing.builders import at, pod
from obsyk_plugins.sql_storage.pg_bulk import OBJECT_LOCKS_UP_TO

#: Long enough for any of these calls when nothing blocks them.
_RETURNS_WITHIN = 5.0
#: How long a call that must wait is watched still waiting.
_STILL_WAITING_FOR = 0.5


@pytest.fixture
def storage(postgres_storage_factory: Callable[[], Storage]) -> Iterator[Storage]:
    opened = postgres_storage_factory()
    yield opened
    opened.close()


class _Call:
    """``function`` run in a thread of its own; what it returned or raised."""

    def __init__(self, function: Callable[[], Any]) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self._function = function
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._function()
        except BaseException as error:  # surfaced by the test, not swallowed
            self.error = error
        finally:
            self.done.set()

    def join(self) -> Any:
        assert self.done.wait(_RETURNS_WITHIN), "the call never returned"
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.result


@contextmanager
def _open_ingestion(
    storage: Storage, cluster_id: str, uids: set[str] | None = None
) -> Iterator[None]:
    """An ingestion that has locked the cluster, read its states and written a pod, still open.

    ``uids``: an event's, of those objects (it writes the first), noting the
    cluster seen; None: a snapshot's.
    """
    holding, release = threading.Event(), threading.Event()
    written = "held" if uids is None else min(uids)

    def hold() -> None:
        with storage.ingest(cluster_id, uids=uids) as tx:
            if uids is not None:
                tx.mark_seen(ClusterSeen(seen_at=at(1)))
            tx.load_states(uids=[written])  # sends what is queued: it holds the locks now
            tx.write(ChangeSet(upserts=[pod(written).as_row(cluster_id, at(1))]))
            tx.load_states(uids=[written])
            holding.set()
            release.wait(_RETURNS_WITHIN * 2)

    holder = _Call(hold)
    try:
        assert holding.wait(_RETURNS_WITHIN), "the ingestion never got going"
        yield
    finally:
        release.set()
        holder.join()


def _cluster(storage: Storage) -> str:
    return storage.create_cluster(storage.create_org("acme").id, "prod").id


def test_a_heartbeat_does_not_wait_for_an_open_ingestion(storage: Storage) -> None:
    cluster_id = _cluster(storage)
    with _open_ingestion(storage, cluster_id):
        seen = _Call(
            lambda: storage.mark_cluster_seen(
                cluster_id, ClusterSeen(seen_at=at(5), heartbeat_at=at(5), agent_version="1.2")
            )
        )
        returned = seen.done.wait(_RETURNS_WITHIN)
        assert storage.get_resource(cluster_id, "held") is None, "the ingestion is still open"
    assert returned, "mark_cluster_seen waited for the ingestion to commit"
    seen.join()
    cluster = storage.list_clusters(storage.list_orgs()[0].id)[0]
    assert (cluster.last_heartbeat_at, cluster.agent_version) == (at(5), "1.2")
    assert storage.get_resource(cluster_id, "held") is not None, "and the ingestion committed"


def test_a_second_ingestion_of_the_cluster_waits_for_the_first(storage: Storage) -> None:
    cluster_id = _cluster(storage)
    with _open_ingestion(storage, cluster_id):

        def second() -> set[str]:
            with storage.ingest(cluster_id) as tx:
                return set(tx.load_states(uids=["held"]))

        waiting = _Call(second)
        assert not waiting.done.wait(_STILL_WAITING_FOR), "it did not wait for the first"
    assert waiting.join() == {"held"}, "it sees what the first committed"


def test_deleting_the_cluster_waits_for_an_open_ingestion(storage: Storage) -> None:
    cluster_id = _cluster(storage)
    org_id = storage.list_orgs()[0].id
    with _open_ingestion(storage, cluster_id):
        deletion = _Call(lambda: storage.delete_cluster(org_id, cluster_id))
        assert not deletion.done.wait(_STILL_WAITING_FOR), "the cluster went under an ingestion"
    assert deletion.join() is True
    assert storage.get_resource(cluster_id, "held") is None, "what it wrote went with it"


def test_an_ingestion_waiting_on_a_deletion_ends_with_lookup_error(
    storage: Storage, migrated_postgres_url: str
) -> None:
    cluster_id = _cluster(storage)

    def ingest() -> None:
        with storage.ingest(cluster_id) as tx:
            tx.load_states(uids=["late"])
            tx.write(ChangeSet(upserts=[pod("late").as_row(cluster_id, at(1))]))

    with psycopg.connect(migrated_postgres_url) as deleting:
        deleting.execute("DELETE FROM clusters WHERE id = %s", [cluster_id])
        waiting = _Call(ingest)
        assert not waiting.done.wait(_STILL_WAITING_FOR), "it did not wait for the deletion"
        deleting.commit()
    with pytest.raises(LookupError, match=cluster_id):
        waiting.join()
    assert storage.get_resource(cluster_id, "late") is None
    assert storage.resource_history(cluster_id, "late") == []


def _event(storage: Storage, cluster_id: str, uid: str) -> Callable[[], set[str]]:
    """An event's ingestion of ``uid``, noting the cluster seen: what it found stored."""

    def ingest() -> set[str]:
        with storage.ingest(cluster_id, uids={uid}) as tx:
            found = set(tx.load_states(uids=[uid]))
            tx.write(ChangeSet(upserts=[pod(uid).as_row(cluster_id, at(2))]))
            tx.mark_seen(ClusterSeen(seen_at=at(2)))
        return found

    return ingest


def test_events_of_other_objects_do_not_wait_for_an_open_event(storage: Storage) -> None:
    cluster_id = _cluster(storage)
    with _open_ingestion(storage, cluster_id, uids={"held"}):
        other = _Call(_event(storage, cluster_id, "other"))
        returned = other.done.wait(_RETURNS_WITHIN)
        assert storage.get_resource(cluster_id, "held") is None, "the first is still open"
    assert returned, "an event of another object waited for the open one"
    assert other.join() == set()
    assert storage.get_resource(cluster_id, "other") is not None


def test_an_event_of_the_same_object_waits_and_sees_what_the_first_committed(
    storage: Storage,
) -> None:
    cluster_id = _cluster(storage)
    with _open_ingestion(storage, cluster_id, uids={"held"}):
        same = _Call(_event(storage, cluster_id, "held"))
        assert not same.done.wait(_STILL_WAITING_FOR), "it did not wait for the first"
    assert same.join() == {"held"}


def test_a_snapshot_waits_for_an_open_event_and_an_event_for_an_open_snapshot(
    storage: Storage,
) -> None:
    cluster_id = _cluster(storage)

    def reconcile() -> set[str]:
        with storage.ingest(cluster_id) as tx:
            return set(tx.load_states())

    with _open_ingestion(storage, cluster_id, uids={"held"}):
        snapshot = _Call(reconcile)
        assert not snapshot.done.wait(_STILL_WAITING_FOR), "the snapshot did not wait"
    assert snapshot.join() == {"held"}
    with _open_ingestion(storage, cluster_id):
        event = _Call(_event(storage, cluster_id, "other"))
        assert not event.done.wait(_STILL_WAITING_FOR), "the event did not wait"
    assert event.join() == set()


def test_an_event_batch_of_many_objects_has_the_cluster_to_itself(storage: Storage) -> None:
    """From OBJECT_LOCKS_UP_TO objects on, a batch takes the cluster as a snapshot does."""
    cluster_id = _cluster(storage)
    many = {f"u{n:03d}" for n in range(OBJECT_LOCKS_UP_TO)} | {"held"}
    with _open_ingestion(storage, cluster_id, uids=many):
        other = _Call(_event(storage, cluster_id, "other"))
        assert not other.done.wait(_STILL_WAITING_FOR), "the event did not wait"
    assert other.join() == set()
