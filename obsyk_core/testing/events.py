"""Event application through :func:`obsyk_core.ingest.apply_events`."""

from __future__ import annotations

from obsyk_core.storage import ChangeType, ClusterSeen, Storage
from obsyk_core.testing.base import ConformanceBase
from obsyk_core.testing.builders import added, at, deleted, events, modified, pod, snapshot


class EventConformance(ConformanceBase):
    def test_added_modified_deleted(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        events(obsyk_storage, cluster.id, at(1), added(pod("p1", phase="Pending"), rv=10))
        events(obsyk_storage, cluster.id, at(2), modified(pod("p1", phase="Running"), rv=11))
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.record["phase"] == "Running"
        assert row.resource_version == 11
        assert row.first_seen_at == at(1) and row.updated_at == at(2)

        result = events(obsyk_storage, cluster.id, at(3), deleted(pod("p1"), rv=12))
        assert result.deleted == 1
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.deleted_at == at(3)
        history = obsyk_storage.resource_history(cluster.id, "p1")
        assert [v.change for v in history] == [
            ChangeType.ADDED,
            ChangeType.MODIFIED,
            ChangeType.DELETED,
        ]

    def test_duplicate_event_is_a_no_op(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        event = added(pod("p1"), rv=10)
        events(obsyk_storage, cluster.id, at(1), event)
        again = events(obsyk_storage, cluster.id, at(2), event)
        assert again.changed == 0 and again.unchanged == 1
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.updated_at == at(1)
        assert len(obsyk_storage.resource_history(cluster.id, "p1")) == 1

    def test_duplicate_event_without_resource_version_is_a_no_op(
        self, obsyk_storage: Storage
    ) -> None:
        cluster = self.new_cluster(obsyk_storage)
        events(obsyk_storage, cluster.id, at(1), added(pod("p1")))
        again = events(obsyk_storage, cluster.id, at(2), added(pod("p1")))
        assert again.changed == 0
        assert len(obsyk_storage.resource_history(cluster.id, "p1")) == 1

    def test_older_resource_version_never_overwrites(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        events(obsyk_storage, cluster.id, at(1), added(pod("p1", image="app:1"), rv=10))
        events(obsyk_storage, cluster.id, at(2), modified(pod("p1", image="app:3"), rv=30))
        late = events(obsyk_storage, cluster.id, at(3), modified(pod("p1", image="app:2"), rv=20))
        assert late.stale == 1 and late.changed == 0
        stale_delete = events(obsyk_storage, cluster.id, at(4), deleted(pod("p1"), rv=25))
        assert stale_delete.changed == 0
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.deleted_at is None
        assert row.record["containers"][0]["image"] == "app:3"
        assert row.resource_version == 30
        assert len(obsyk_storage.resource_history(cluster.id, "p1")) == 2

    def test_unchanged_content_at_a_newer_version_still_blocks_older_changes(
        self, obsyk_storage: Storage
    ) -> None:
        cluster = self.new_cluster(obsyk_storage)
        events(obsyk_storage, cluster.id, at(1), added(pod("p1", image="app:a"), rv=5))
        # The object was touched (e.g. a status heartbeat) without a change in the record.
        same = events(obsyk_storage, cluster.id, at(2), modified(pod("p1", image="app:a"), rv=7))
        assert same.changed == 0
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.resource_version == 7 and row.updated_at == at(1)
        late = events(obsyk_storage, cluster.id, at(3), modified(pod("p1", image="app:b"), rv=6))
        assert late.stale == 1 and late.changed == 0
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.record["containers"][0]["image"] == "app:a"
        assert len(obsyk_storage.resource_history(cluster.id, "p1")) == 1

    def test_without_resource_version_arrival_order_wins(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        events(obsyk_storage, cluster.id, at(1), added(pod("p1", image="app:1")))
        events(obsyk_storage, cluster.id, at(3), modified(pod("p1", image="app:3")))
        # A request that arrived at minute 2 but was applied last.
        late = events(obsyk_storage, cluster.id, at(2), modified(pod("p1", image="app:2")))
        assert late.changed == 0
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.record["containers"][0]["image"] == "app:3"

    def test_batch_is_applied_in_seq_order(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        events(
            obsyk_storage,
            cluster.id,
            at(1),
            modified(pod("p1", image="app:3"), seq=3),
            added(pod("p1", image="app:1"), seq=1),
            modified(pod("p1", image="app:2"), seq=2),
        )
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.record["containers"][0]["image"] == "app:3"
        images = [
            v.record["containers"][0]["image"]
            for v in obsyk_storage.resource_history(cluster.id, "p1")
            if v.record is not None
        ]
        assert images == ["app:1", "app:2", "app:3"]

    def test_delete_of_unknown_uid_is_a_no_op(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        result = events(obsyk_storage, cluster.id, at(1), deleted(pod("ghost"), rv=5))
        assert result.changed == 0
        assert obsyk_storage.get_resource(cluster.id, "ghost") is None
        assert obsyk_storage.resource_history(cluster.id, "ghost") == []

    def test_delete_of_deleted_resource_is_a_no_op(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        events(obsyk_storage, cluster.id, at(1), added(pod("p1")))
        events(obsyk_storage, cluster.id, at(2), deleted(pod("p1")))
        again = events(obsyk_storage, cluster.id, at(3), deleted(pod("p1")))
        assert again.changed == 0
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.deleted_at == at(2)
        assert len(obsyk_storage.resource_history(cluster.id, "p1")) == 2

    def test_resource_revives_after_delete(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        events(obsyk_storage, cluster.id, at(1), added(pod("p1"), rv=1))
        events(obsyk_storage, cluster.id, at(2), deleted(pod("p1"), rv=2))
        result = events(obsyk_storage, cluster.id, at(3), added(pod("p1", phase="Pending"), rv=3))
        assert result.added == 1
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.deleted_at is None
        assert row.record["phase"] == "Pending"
        assert row.first_seen_at == at(1)
        assert [v.change for v in obsyk_storage.resource_history(cluster.id, "p1")] == [
            ChangeType.ADDED,
            ChangeType.DELETED,
            ChangeType.ADDED,
        ]

    def test_same_uid_several_times_in_one_batch(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        result = events(
            obsyk_storage,
            cluster.id,
            at(1),
            added(pod("p1", phase="Pending"), rv=1),
            modified(pod("p1", phase="Running"), rv=2),
            modified(pod("p1", phase="Succeeded"), rv=3),
            added(pod("p2"), rv=4),
            deleted(pod("p2"), rv=5),
        )
        assert (result.added, result.modified, result.deleted) == (2, 2, 1)
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.record["phase"] == "Succeeded"
        assert row.resource_version == 3
        phases = [
            v.record["phase"]
            for v in obsyk_storage.resource_history(cluster.id, "p1")
            if v.record is not None
        ]
        assert phases == ["Pending", "Running", "Succeeded"]
        gone = obsyk_storage.get_resource(cluster.id, "p2")
        assert gone is not None and gone.deleted_at == at(1)
        assert [v.change for v in obsyk_storage.resource_history(cluster.id, "p2")] == [
            ChangeType.ADDED,
            ChangeType.DELETED,
        ]

    def test_delete_then_add_in_one_batch_leaves_it_live(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        snapshot(obsyk_storage, cluster.id, at(0), {"Pod": [pod("p1", phase="Pending")]})
        events(
            obsyk_storage,
            cluster.id,
            at(1),
            deleted(pod("p1"), seq=1),
            added(pod("p1", phase="Running"), seq=2),
        )
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.deleted_at is None
        assert row.record["phase"] == "Running"
        assert [v.change for v in obsyk_storage.resource_history(cluster.id, "p1")] == [
            ChangeType.ADDED,
            ChangeType.DELETED,
            ChangeType.ADDED,
        ]

    def test_events_mark_the_cluster_seen_in_the_same_transaction(
        self, obsyk_storage: Storage
    ) -> None:
        cluster = self.new_cluster(obsyk_storage)
        events(
            obsyk_storage,
            cluster.id,
            at(1),
            added(pod("p1")),
            seen=ClusterSeen(seen_at=at(1), agent_version="0.3.2"),
        )
        stored = obsyk_storage.get_cluster(cluster.org_id, cluster.id)
        assert stored is not None
        assert stored.last_seen_at == at(1)
        assert stored.agent_version == "0.3.2"
        assert stored.last_heartbeat_at is None
