"""Snapshot reconciliation through :func:`obsyk_core.ingest.reconcile_snapshot`."""

from __future__ import annotations

from obsyk_core.storage import ChangeType, Storage
from obsyk_core.testing.base import ConformanceBase, assert_utc
from obsyk_core.testing.builders import at, deployment, events, modified, node, pod, snapshot


class SnapshotConformance(ConformanceBase):
    def test_snapshot_stores_every_record_as_sent(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        web = pod("p1", "web-0", labels={"app": "web"})
        worker = node("n1", "worker-1")
        api = deployment("d1", "api")
        result = snapshot(
            obsyk_storage, cluster.id, at(0), {"Pod": [web], "Node": [worker], "Deployment": [api]}
        )
        assert (result.added, result.modified, result.deleted) == (3, 0, 0)

        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None
        assert (row.cluster_id, row.uid, row.kind, row.namespace, row.name) == (
            cluster.id,
            "p1",
            "Pod",
            "default",
            "web-0",
        )
        assert dict(row.labels) == {"app": "web"}
        assert dict(row.record) == dict(web.record)
        assert row.content_hash == web.content_hash
        assert row.first_seen_at == row.updated_at == at(0)
        assert row.deleted_at is None
        for value in (row.first_seen_at, row.updated_at, row.observed_at):
            assert_utc(value)

        cluster_scoped = obsyk_storage.get_resource(cluster.id, "n1")
        assert cluster_scoped is not None and cluster_scoped.namespace is None
        annotated = obsyk_storage.get_resource(cluster.id, "d1")
        assert annotated is not None and dict(annotated.annotations) == {"team": "payments"}

    def test_absent_resource_of_a_carried_kind_is_tombstoned(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        snapshot(obsyk_storage, cluster.id, at(0), {"Pod": [pod("p1"), pod("p2")]})
        result = snapshot(obsyk_storage, cluster.id, at(5), {"Pod": [pod("p1")]})
        assert (result.added, result.modified, result.deleted, result.unchanged) == (0, 0, 1, 1)

        gone = obsyk_storage.get_resource(cluster.id, "p2")
        assert gone is not None, "a deletion is a tombstone, not a removal"
        assert gone.deleted_at == at(5)
        assert_utc(gone.deleted_at)
        kept = obsyk_storage.get_resource(cluster.id, "p1")
        assert kept is not None and kept.deleted_at is None

    def test_kind_absent_from_the_snapshot_is_untouched(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        snapshot(obsyk_storage, cluster.id, at(0), {"Pod": [pod("p1")], "Node": [node("n1")]})
        snapshot(obsyk_storage, cluster.id, at(5), {"Pod": [pod("p1")]})
        untouched = obsyk_storage.get_resource(cluster.id, "n1")
        assert untouched is not None
        assert untouched.deleted_at is None
        assert untouched.updated_at == at(0)
        assert len(obsyk_storage.resource_history(cluster.id, "n1")) == 1

    def test_empty_list_deletes_every_resource_of_that_kind(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        snapshot(
            obsyk_storage,
            cluster.id,
            at(0),
            {"Pod": [pod("p1"), pod("p2")], "Node": [node("n1")]},
        )
        result = snapshot(obsyk_storage, cluster.id, at(5), {"Pod": []})
        assert result.deleted == 2
        for uid in ("p1", "p2"):
            row = obsyk_storage.get_resource(cluster.id, uid)
            assert row is not None and row.deleted_at == at(5)
        live_node = obsyk_storage.get_resource(cluster.id, "n1")
        assert live_node is not None and live_node.deleted_at is None

    def test_resending_the_same_snapshot_writes_nothing(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        body = {"Pod": [pod("p1"), pod("p2")], "Node": [node("n1")]}
        snapshot(obsyk_storage, cluster.id, at(0), body)
        before = {uid: obsyk_storage.get_resource(cluster.id, uid) for uid in ("p1", "p2", "n1")}

        result = snapshot(obsyk_storage, cluster.id, at(10), body)

        assert result.changed == 0 and result.unchanged == 3
        assert result.changes == []
        for uid, row in before.items():
            after = obsyk_storage.get_resource(cluster.id, uid)
            assert after is not None and row is not None
            assert after.updated_at == row.updated_at == at(0)
            assert after.record == row.record
            assert len(obsyk_storage.resource_history(cluster.id, uid)) == 1

    def test_changed_record_is_replaced_and_keeps_first_seen(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        snapshot(obsyk_storage, cluster.id, at(0), {"Pod": [pod("p1", phase="Pending")]})
        result = snapshot(obsyk_storage, cluster.id, at(5), {"Pod": [pod("p1", phase="Running")]})
        assert result.modified == 1
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None
        assert row.record["phase"] == "Running"
        assert row.first_seen_at == at(0)
        assert row.updated_at == at(5)
        history = obsyk_storage.resource_history(cluster.id, "p1")
        assert [v.change for v in history] == [ChangeType.ADDED, ChangeType.MODIFIED]

    def test_resource_back_in_a_snapshot_is_revived(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        snapshot(obsyk_storage, cluster.id, at(0), {"Pod": [pod("p1")]})
        snapshot(obsyk_storage, cluster.id, at(5), {"Pod": []})
        snapshot(obsyk_storage, cluster.id, at(10), {"Pod": [pod("p1")]})
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.deleted_at is None
        assert row.first_seen_at == at(0)
        history = obsyk_storage.resource_history(cluster.id, "p1")
        assert [v.change for v in history] == [
            ChangeType.ADDED,
            ChangeType.DELETED,
            ChangeType.ADDED,
        ]

    def test_snapshot_only_touches_its_own_cluster(self, obsyk_storage: Storage) -> None:
        org = obsyk_storage.create_org("acme")
        prod = obsyk_storage.create_cluster(org.id, "prod")
        dev = obsyk_storage.create_cluster(org.id, "dev")
        # The same uid may exist in two clusters (restored backups, copied manifests).
        snapshot(obsyk_storage, prod.id, at(0), {"Pod": [pod("p1", "in-prod")]})
        snapshot(obsyk_storage, dev.id, at(0), {"Pod": [pod("p1", "in-dev")]})
        snapshot(obsyk_storage, dev.id, at(5), {"Pod": []})
        prod_row = obsyk_storage.get_resource(prod.id, "p1")
        assert prod_row is not None and prod_row.deleted_at is None
        assert prod_row.name == "in-prod"
        dev_row = obsyk_storage.get_resource(dev.id, "p1")
        assert dev_row is not None and dev_row.deleted_at == at(5)

    def test_late_snapshot_does_not_undo_a_newer_event(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        snapshot(obsyk_storage, cluster.id, at(0), {"Pod": [pod("p1", phase="Pending")]})
        events(obsyk_storage, cluster.id, at(10), modified(pod("p1", phase="Running")))
        # A snapshot received at minute 5 but applied only now (staged, then a job).
        result = snapshot(obsyk_storage, cluster.id, at(5), {"Pod": [pod("p1", phase="Pending")]})
        assert result.changed == 0
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.record["phase"] == "Running"

    def test_snapshot_keeps_the_stored_resource_version(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        events(obsyk_storage, cluster.id, at(1), modified(pod("p1", image="app:a"), rv=10))
        # A snapshot carries no resourceVersion; what it saw is at least version 10.
        snapshot(obsyk_storage, cluster.id, at(2), {"Pod": [pod("p1", image="app:b")]})
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.resource_version == 10
        # An event from before the snapshot, delivered late, must not roll it back.
        late = events(obsyk_storage, cluster.id, at(3), modified(pod("p1", image="app:c"), rv=9))
        assert late.stale == 1 and late.changed == 0
        row = obsyk_storage.get_resource(cluster.id, "p1")
        assert row is not None and row.record["containers"][0]["image"] == "app:b"
