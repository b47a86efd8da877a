"""Staged snapshot chunks: idempotent staging, readiness, dropping and pruning."""

from __future__ import annotations

from obsyk_core.storage import ReadySnapshot, StagedChunk, Storage
from obsyk_core.testing.base import ConformanceBase, assert_utc
from obsyk_core.testing.builders import at, pod, snapshot


def _chunk(snapshot_id: str, number: int, *, final: bool = False, minute: float = 0) -> StagedChunk:
    payload = f'{{"snapshot_id": "{snapshot_id}", "chunk": {number}}}'.encode()
    return StagedChunk(snapshot_id, number, final, payload, at(minute))


class StagingConformance(ConformanceBase):
    def test_staged_chunks_come_back_in_chunk_order(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        for number in (2, 0, 1):
            obsyk_storage.stage_chunk(cluster.id, _chunk("snap-1", number, final=number == 2))
        chunks = obsyk_storage.staged_chunks(cluster.id, "snap-1")
        assert [c.chunk for c in chunks] == [0, 1, 2]
        assert [c.final for c in chunks] == [False, False, True]
        assert chunks[1] == _chunk("snap-1", 1)
        assert_utc(chunks[0].received_at)
        assert obsyk_storage.staged_chunks(cluster.id, "no-such-snapshot") == []

    def test_restaging_a_chunk_replaces_it(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        obsyk_storage.stage_chunk(cluster.id, _chunk("snap-1", 0))
        resent = StagedChunk("snap-1", 0, False, b'{"resent": true}', at(1))
        obsyk_storage.stage_chunk(cluster.id, resent)
        assert obsyk_storage.staged_chunks(cluster.id, "snap-1") == [resent]

    def test_staging_is_per_cluster(self, obsyk_storage: Storage) -> None:
        org = obsyk_storage.create_org("acme")
        prod = obsyk_storage.create_cluster(org.id, "prod")
        dev = obsyk_storage.create_cluster(org.id, "dev")
        obsyk_storage.stage_chunk(prod.id, _chunk("snap-1", 0, final=True))
        assert obsyk_storage.staged_chunks(dev.id, "snap-1") == []
        assert [(r.cluster_id, r.snapshot_id) for r in obsyk_storage.ready_snapshots()] == [
            (prod.id, "snap-1")
        ]
        assert [r.snapshot_id for r in obsyk_storage.ready_snapshots(prod.id)] == ["snap-1"]
        assert obsyk_storage.ready_snapshots(dev.id) == []

    def test_ready_only_with_final_chunk_and_no_gap(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        stage = obsyk_storage.stage_chunk
        stage(cluster.id, _chunk("complete", 0, minute=1))
        stage(cluster.id, _chunk("complete", 1, final=True, minute=2))
        stage(cluster.id, _chunk("gap", 0))
        stage(cluster.id, _chunk("gap", 2, final=True))
        stage(cluster.id, _chunk("no-final", 0))
        stage(cluster.id, _chunk("no-final", 1))
        stage(cluster.id, _chunk("single", 0, final=True, minute=3))

        ready = obsyk_storage.ready_snapshots()
        assert sorted((r.snapshot_id, r.chunk_count) for r in ready) == [
            ("complete", 2),
            ("single", 1),
        ]
        for entry in ready:
            assert isinstance(entry, ReadySnapshot) and entry.cluster_id == cluster.id
            assert_utc(entry.received_at)

        stage(cluster.id, _chunk("gap", 1))
        assert "gap" in {r.snapshot_id for r in obsyk_storage.ready_snapshots()}

    def test_drop_staged_commits_with_the_snapshot(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        obsyk_storage.stage_chunk(cluster.id, _chunk("snap-1", 0))
        obsyk_storage.stage_chunk(cluster.id, _chunk("snap-1", 1, final=True))
        obsyk_storage.stage_chunk(cluster.id, _chunk("snap-2", 0, final=True))

        body = {"Pod": [pod("p1")]}
        snapshot(obsyk_storage, cluster.id, at(5), body, staged_snapshot_id="snap-1")

        assert obsyk_storage.get_resource(cluster.id, "p1") is not None
        assert obsyk_storage.staged_chunks(cluster.id, "snap-1") == []
        assert [r.snapshot_id for r in obsyk_storage.ready_snapshots()] == ["snap-2"]

    def test_prune_staging_drops_only_old_incomplete_snapshots(
        self, obsyk_storage: Storage
    ) -> None:
        cluster = self.new_cluster(obsyk_storage)
        stage = obsyk_storage.stage_chunk
        stage(cluster.id, _chunk("abandoned", 0, minute=0))
        stage(cluster.id, _chunk("abandoned", 1, minute=0))
        stage(cluster.id, _chunk("in-progress", 0, minute=50))
        stage(cluster.id, _chunk("complete", 0, final=True, minute=0))

        assert obsyk_storage.prune_staging(at(30)) == 2

        assert obsyk_storage.staged_chunks(cluster.id, "abandoned") == []
        assert len(obsyk_storage.staged_chunks(cluster.id, "in-progress")) == 1
        assert len(obsyk_storage.staged_chunks(cluster.id, "complete")) == 1
        assert obsyk_storage.prune_staging(at(30)) == 0
