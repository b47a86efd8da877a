"""Resource history, the inventory "as of" a past time, and history pruning."""

from __future__ import annotations

from obsyk_core.labels import parse_label_selector
from obsyk_core.storage import ChangeType, ResourceQuery, Storage
from obsyk_core.testing.base import ConformanceBase, assert_utc
from obsyk_core.testing.builders import added, at, deleted, events, modified, pod, snapshot


class HistoryConformance(ConformanceBase):
    def test_history_lists_each_real_change_oldest_first(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        first = pod("p1", phase="Pending")
        second = pod("p1", phase="Running")
        events(obsyk_storage, cluster.id, at(1), added(first, rv=1))
        events(obsyk_storage, cluster.id, at(2), modified(second, rv=2))
        events(obsyk_storage, cluster.id, at(3), modified(second, rv=3))  # same content
        events(obsyk_storage, cluster.id, at(4), deleted(second, rv=4))

        history = obsyk_storage.resource_history(cluster.id, "p1")
        assert [(v.change, v.changed_at) for v in history] == [
            (ChangeType.ADDED, at(1)),
            (ChangeType.MODIFIED, at(2)),
            (ChangeType.DELETED, at(4)),
        ]
        assert history[0].record is not None and dict(history[0].record) == dict(first.record)
        assert history[1].content_hash == second.content_hash
        assert history[2].record is None
        for version in history:
            assert (version.cluster_id, version.uid, version.kind) == (cluster.id, "p1", "Pod")
            assert (version.namespace, version.name) == ("default", "pod-p1")
            assert_utc(version.changed_at)

    def test_history_of_unknown_resource_is_empty(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        assert obsyk_storage.resource_history(cluster.id, "never-seen") == []

    # -- as_of

    def _timeline(self, obsyk_storage: Storage) -> str:
        """web changes at minute 10, old is deleted at 10, new appears at 10."""
        cluster = self.new_cluster(obsyk_storage)
        snapshot(
            obsyk_storage,
            cluster.id,
            at(0),
            {"Pod": [pod("web", labels={"tier": "v1"}), pod("old")]},
        )
        snapshot(
            obsyk_storage,
            cluster.id,
            at(10),
            {"Pod": [pod("web", labels={"tier": "v2"}), pod("new")]},
        )
        return cluster.id

    def test_as_of_shows_the_inventory_at_a_past_time(self, obsyk_storage: Storage) -> None:
        cluster_id = self._timeline(obsyk_storage)
        past = obsyk_storage.query_resources(ResourceQuery(cluster_ids=(cluster_id,), as_of=at(5)))
        assert [row.uid for row in past] == ["old", "web"]
        web = next(row for row in past if row.uid == "web")
        assert dict(web.labels) == {"tier": "v1"}
        assert web.record["labels"] == {"tier": "v1"}
        assert all(row.deleted_at is None for row in past)

    def test_as_of_now_matches_the_live_inventory(self, obsyk_storage: Storage) -> None:
        cluster_id = self._timeline(obsyk_storage)
        later = obsyk_storage.query_resources(
            ResourceQuery(cluster_ids=(cluster_id,), as_of=at(20))
        )
        live = obsyk_storage.query_resources(ResourceQuery(cluster_ids=(cluster_id,)))
        assert [row.uid for row in later] == [row.uid for row in live] == ["new", "web"]
        assert [dict(row.record) for row in later] == [dict(row.record) for row in live]

    def test_as_of_includes_deleted_only_when_asked(self, obsyk_storage: Storage) -> None:
        cluster_id = self._timeline(obsyk_storage)
        rows = obsyk_storage.query_resources(
            ResourceQuery(cluster_ids=(cluster_id,), as_of=at(20), include_deleted=True)
        )
        assert [row.uid for row in rows] == ["new", "old", "web"]
        old = next(row for row in rows if row.uid == "old")
        assert old.deleted_at == at(10)

    def test_as_of_before_anything_is_empty(self, obsyk_storage: Storage) -> None:
        cluster_id = self._timeline(obsyk_storage)
        query = ResourceQuery(cluster_ids=(cluster_id,), as_of=at(-1), include_deleted=True)
        assert obsyk_storage.query_resources(query) == []

    def test_as_of_filters_on_the_labels_of_that_time(self, obsyk_storage: Storage) -> None:
        cluster_id = self._timeline(obsyk_storage)
        selector = parse_label_selector("tier=v1")
        then = ResourceQuery(cluster_ids=(cluster_id,), as_of=at(5), labels=selector)
        now = ResourceQuery(cluster_ids=(cluster_id,), as_of=at(15), labels=selector)
        assert [row.uid for row in obsyk_storage.query_resources(then)] == ["web"]
        assert obsyk_storage.query_resources(now) == []

    # -- pruning

    def test_prune_history_keeps_each_resources_newest_version(
        self, obsyk_storage: Storage
    ) -> None:
        cluster = self.new_cluster(obsyk_storage)
        events(obsyk_storage, cluster.id, at(0), added(pod("busy", phase="Pending")))
        events(obsyk_storage, cluster.id, at(10), modified(pod("busy", phase="Running")))
        events(obsyk_storage, cluster.id, at(20), modified(pod("busy", phase="Failed")))
        events(obsyk_storage, cluster.id, at(0), added(pod("quiet")))

        assert obsyk_storage.prune_history(at(15)) == 2

        busy = obsyk_storage.resource_history(cluster.id, "busy")
        assert [(v.changed_at, v.change) for v in busy] == [(at(20), ChangeType.MODIFIED)]
        quiet = obsyk_storage.resource_history(cluster.id, "quiet")
        assert [v.changed_at for v in quiet] == [at(0)], "the only version is the newest one"
        live = obsyk_storage.get_resource(cluster.id, "busy")
        assert live is not None and live.record["phase"] == "Failed"
        assert obsyk_storage.prune_history(at(15)) == 0

    def test_prune_history_drops_resources_deleted_before_the_cutoff(
        self, obsyk_storage: Storage
    ) -> None:
        cluster = self.new_cluster(obsyk_storage)
        events(obsyk_storage, cluster.id, at(0), added(pod("long-gone")), added(pod("just-gone")))
        events(obsyk_storage, cluster.id, at(5), deleted(pod("long-gone")))
        events(obsyk_storage, cluster.id, at(30), deleted(pod("just-gone")))

        obsyk_storage.prune_history(at(15))

        assert obsyk_storage.get_resource(cluster.id, "long-gone") is None
        assert obsyk_storage.resource_history(cluster.id, "long-gone") == []
        recent = obsyk_storage.get_resource(cluster.id, "just-gone")
        assert recent is not None and recent.deleted_at == at(30)
        assert [v.change for v in obsyk_storage.resource_history(cluster.id, "just-gone")] == [
            ChangeType.DELETED
        ]
