"""The ingest transaction itself: atomicity, rollback, and serialisation per cluster."""

from __future__ import annotations

import sys
import threading

import pytest

from obsyk_core.ingest import IncomingResource, ResourceEvent, apply_events
from obsyk_core.storage import (
    ChangeSet,
    ChangeType,
    ClusterSeen,
    ResourceQuery,
    ResourceRow,
    ResourceVersion,
    StagedChunk,
    Storage,
    Tombstone,
)
from obsyk_core.testing.base import ConformanceBase
from obsyk_core.testing.builders import added, at, node, pod, snapshot

#: Enough work per request that unserialised requests interleave (Python switches
#: threads every few milliseconds).
_CONCURRENT_PODS = 200


class _Boom(RuntimeError):
    pass


def _row(cluster_id: str, item: IncomingResource, when: int) -> ResourceRow:
    return item.as_row(cluster_id, at(when))


def _version(
    cluster_id: str, item: IncomingResource, change: ChangeType, when: int
) -> ResourceVersion:
    return ResourceVersion(
        cluster_id=cluster_id,
        uid=item.uid,
        kind=item.kind,
        namespace=item.namespace,
        name=item.name,
        change=change,
        content_hash=item.content_hash,
        record=item.record if change is not ChangeType.DELETED else None,
        changed_at=at(when),
    )


class TransactionConformance(ConformanceBase):
    def test_exception_inside_ingest_writes_nothing(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        snapshot(obsyk_storage, cluster.id, at(0), {"Pod": [pod("p1")]})
        obsyk_storage.stage_chunk(cluster.id, StagedChunk("snap-1", 0, True, b"{}", at(0)))
        new = pod("p2")

        with pytest.raises(_Boom), obsyk_storage.ingest(cluster.id) as tx:
            tx.write(
                ChangeSet(
                    upserts=[_row(cluster.id, new, 5)],
                    tombstones=[Tombstone("p1", at(5), None, at(5))],
                    versions=[
                        _version(cluster.id, new, ChangeType.ADDED, 5),
                        _version(cluster.id, pod("p1"), ChangeType.DELETED, 5),
                    ],
                )
            )
            tx.drop_staged("snap-1")
            tx.mark_seen(ClusterSeen(seen_at=at(5), heartbeat_at=at(5)))
            raise _Boom

        assert obsyk_storage.get_resource(cluster.id, "p2") is None
        assert obsyk_storage.resource_history(cluster.id, "p2") == []
        kept = obsyk_storage.get_resource(cluster.id, "p1")
        assert kept is not None and kept.deleted_at is None
        assert len(obsyk_storage.resource_history(cluster.id, "p1")) == 1
        assert len(obsyk_storage.staged_chunks(cluster.id, "snap-1")) == 1
        stored = obsyk_storage.get_cluster(cluster.org_id, cluster.id)
        assert stored is not None and stored.last_seen_at is None

    def test_written_changes_are_visible_after_commit(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        first, second = pod("p1"), pod("p2")
        with obsyk_storage.ingest(cluster.id) as tx:
            assert tx.load_states() == {}
            tx.write(ChangeSet(upserts=[_row(cluster.id, first, 1)]))
            tx.write(
                ChangeSet(
                    upserts=[_row(cluster.id, second, 1)],
                    versions=[_version(cluster.id, second, ChangeType.ADDED, 1)],
                )
            )
        states = _live_rows(obsyk_storage, cluster.id)
        assert set(states) == {"p1", "p2"}
        assert states["p2"].content_hash == second.content_hash
        assert len(obsyk_storage.resource_history(cluster.id, "p2")) == 1

    def test_an_ingestion_of_named_objects_writes_only_those(self, obsyk_storage: Storage) -> None:
        """``ingest(cluster, uids=...)`` (events): a change of another object is refused."""
        cluster = self.new_cluster(obsyk_storage)
        mine, other = pod("mine"), pod("other")
        with obsyk_storage.ingest(cluster.id, uids={"mine"}) as tx:
            assert tx.load_states(uids=["mine"]) == {}
            tx.write(ChangeSet(upserts=[_row(cluster.id, mine, 1)]))
        refused = pytest.raises(ValueError, match="other")
        with refused, obsyk_storage.ingest(cluster.id, uids={"mine"}) as tx:
            tx.write(ChangeSet(upserts=[_row(cluster.id, other, 2)]))
        stored = obsyk_storage.query_resources(ResourceQuery((cluster.id,)))
        assert [row.uid for row in stored] == ["mine"]

    def test_load_states_narrows_by_kind_and_uid(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        snapshot(
            obsyk_storage, cluster.id, at(0), {"Pod": [pod("p1"), pod("p2")], "Node": [node("n1")]}
        )
        snapshot(obsyk_storage, cluster.id, at(1), {"Pod": [pod("p1")]})
        with obsyk_storage.ingest(cluster.id) as tx:
            everything = tx.load_states()
            pods = tx.load_states(kinds=["Pod"])
            picked = tx.load_states(uids=["p2", "n1", "unknown"])
            both = tx.load_states(kinds=["Node"], uids=["p1", "n1"])
        assert set(everything) == {"p1", "p2", "n1"}
        assert set(pods) == {"p1", "p2"}, "deleted resources are included"
        assert pods["p2"].deleted_at == at(1)
        assert pods["p1"].deleted_at is None and pods["p1"].observed_at == at(0)
        assert (pods["p1"].kind, pods["p1"].namespace, pods["p1"].name) == (
            "Pod",
            "default",
            "pod-p1",
        )
        assert set(picked) == {"p2", "n1"}
        assert set(both) == {"n1"}

    def test_concurrent_ingestion_of_one_cluster_is_serialised(
        self, obsyk_storage: Storage
    ) -> None:
        """Four requests add the same pods at once: each pod gets exactly one version."""
        cluster = self.new_cluster(obsyk_storage)
        batch: list[ResourceEvent] = [added(pod(f"p{index}")) for index in range(_CONCURRENT_PODS)]
        start = threading.Barrier(4)
        failures: list[BaseException] = []

        def send(minute: int) -> None:
            try:
                start.wait()
                apply_events(obsyk_storage, cluster.id, batch, received_at=at(minute))
            except BaseException as error:  # reported below, in the test's thread
                failures.append(error)

        threads = [threading.Thread(target=send, args=(minute,)) for minute in range(4)]
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)  # interleave threads often, so a missing lock shows
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        finally:
            sys.setswitchinterval(switch_interval)
        assert failures == []
        rows = obsyk_storage.query_resources(ResourceQuery(cluster_ids=(cluster.id,), limit=1000))
        assert len(rows) == _CONCURRENT_PODS
        for index in range(_CONCURRENT_PODS):
            assert len(obsyk_storage.resource_history(cluster.id, f"p{index}")) == 1

    def test_stored_states_match_load_states(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        snapshot(
            obsyk_storage, cluster.id, at(0), {"Pod": [pod("p1"), pod("p2")], "Node": [node("n1")]}
        )
        snapshot(obsyk_storage, cluster.id, at(1), {"Pod": [pod("p1")]})
        with obsyk_storage.ingest(cluster.id) as tx:
            expected_pods = tx.load_states(kinds=["Pod"])
            expected_all = tx.load_states(kinds=["Pod", "Node"])

        pods = {state.uid: state for state in obsyk_storage.stored_states(cluster.id, ["Pod"])}
        assert pods == expected_pods
        assert pods["p2"].deleted_at == at(1), "deleted resources are included"
        every = obsyk_storage.stored_states(cluster.id, ["Pod", "Node", "Service"])
        assert {state.uid: state for state in every} == expected_all
        assert obsyk_storage.stored_states(cluster.id, []) == []
        other = self.new_cluster(obsyk_storage, "other")
        assert obsyk_storage.stored_states(other.id, ["Pod"]) == []

    def test_stored_states_do_not_wait_on_ingestion(self, obsyk_storage: Storage) -> None:
        """A read of the states returns while an ingestion of the cluster is still open.

        It sees the last committed state, not the open transaction's writes.
        """
        cluster = self.new_cluster(obsyk_storage)
        snapshot(obsyk_storage, cluster.id, at(0), {"Pod": [pod("p1")]})
        holding, release, read_done = threading.Event(), threading.Event(), threading.Event()
        failures: list[BaseException] = []
        read: list[set[str]] = []

        def hold_ingestion() -> None:
            try:
                with obsyk_storage.ingest(cluster.id) as tx:
                    tx.write(ChangeSet(upserts=[_row(cluster.id, pod("p2"), 1)]))
                    holding.set()
                    release.wait(timeout=_WAIT_SECONDS)
            except BaseException as error:  # reported below, in the test's thread
                failures.append(error)
            finally:
                holding.set()

        def read_states() -> None:
            try:
                read.append({s.uid for s in obsyk_storage.stored_states(cluster.id, ["Pod"])})
            except BaseException as error:
                failures.append(error)
            finally:
                read_done.set()

        holder = threading.Thread(target=hold_ingestion)
        reader = threading.Thread(target=read_states)
        holder.start()
        try:
            assert holding.wait(timeout=_WAIT_SECONDS)
            reader.start()
            returned = read_done.wait(timeout=_WAIT_SECONDS)
        finally:
            release.set()
            holder.join(timeout=_WAIT_SECONDS)
            if reader.ident is not None:  # started
                reader.join(timeout=_WAIT_SECONDS)
        assert failures == []
        assert returned, "stored_states waited for the open ingestion to finish"
        assert read == [{"p1"}], "it must see the committed state only"
        after = obsyk_storage.stored_states(cluster.id, ["Pod"])
        assert {state.uid for state in after} == {"p1", "p2"}


#: How long the threaded tests wait before calling a backend stuck.
_WAIT_SECONDS = 10


def _live_rows(storage: Storage, cluster_id: str) -> dict[str, ResourceRow]:
    rows = storage.query_resources(ResourceQuery(cluster_ids=(cluster_id,), limit=1000))
    return {row.uid: row for row in rows}
