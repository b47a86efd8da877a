"""What ingestion reports back: counts and committed changes (the notification payload)."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
from typing import Any

import pytest

from obsyk_core.hashing import canonical_json, content_hash
from obsyk_core.ingest import (
    IncomingResource,
    ResourceChange,
    group_by_kind,
    parse_resource_version,
)
from obsyk_core.storage import ChangeType
from obsyk_core.testing import added, at, deleted, modified, node, pod
from obsyk_core.testing.builders import events, snapshot
from obsyk_plugins.memory_storage import MemoryStorage


@pytest.fixture
def storage_and_cluster() -> tuple[MemoryStorage, str]:
    storage = MemoryStorage()
    return storage, storage.create_cluster(storage.create_org("acme").id, "prod").id


def test_result_lists_each_committed_change(storage_and_cluster: tuple[MemoryStorage, str]) -> None:
    storage, cluster_id = storage_and_cluster
    snapshot(storage, cluster_id, at(0), {"Pod": [pod("p1"), pod("p2")]})
    result = snapshot(storage, cluster_id, at(5), {"Pod": [pod("p1", phase="Failed")]})
    assert (result.added, result.modified, result.deleted, result.changed) == (0, 1, 1, 2)
    assert sorted(result.changes, key=lambda c: c.uid) == [
        ResourceChange(
            cluster_id,
            "p1",
            "Pod",
            "default",
            "pod-p1",
            ChangeType.MODIFIED,
            pod("p1", phase="Failed").content_hash,
            at(5),
        ),
        ResourceChange(
            cluster_id,
            "p2",
            "Pod",
            "default",
            "pod-p2",
            ChangeType.DELETED,
            pod("p2").content_hash,
            at(5),
        ),
    ]


def test_no_op_reports_no_change(storage_and_cluster: tuple[MemoryStorage, str]) -> None:
    storage, cluster_id = storage_and_cluster
    events(storage, cluster_id, at(1), added(pod("p1"), rv=3))
    result = events(
        storage,
        cluster_id,
        at(2),
        added(pod("p1"), rv=3),  # duplicate
        modified(pod("p1", phase="Pending"), rv=2),  # stale
        deleted(node("ghost")),  # unknown
    )
    assert result.changes == []
    assert (result.unchanged, result.stale) == (2, 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1042", 1042), (1042, 1042), ("", None), ("v2", None), (None, None), (True, None)],
)
def test_resource_versions_are_compared_only_when_numeric(
    value: object, expected: int | None
) -> None:
    assert parse_resource_version(value) == expected


def test_incoming_resource_takes_identity_from_the_record() -> None:
    item = IncomingResource.from_record("Node", {"uid": "n1", "name": "w1", "namespace": ""})
    assert (item.uid, item.name, item.namespace) == ("n1", "w1", None)
    assert item.labels == {} and item.annotations == {}


def test_group_by_kind_keeps_order_within_a_kind() -> None:
    grouped = group_by_kind([pod("p2"), node("n1"), pod("p1")])
    assert {kind: [r.uid for r in items] for kind, items in grouped.items()} == {
        "Pod": ["p2", "p1"],
        "Node": ["n1"],
    }


def test_a_record_is_encoded_once_and_its_row_carries_the_encoding() -> None:
    record = {"uid": "u1", "name": "web", "labels": {"b": "2", "a": "1"}}
    item = IncomingResource.from_record("Pod", record)
    # The bytes the content hash covers are the ones handed to the backend.
    assert item.record_json == canonical_json(record)
    assert item.content_hash == hashlib.sha256(canonical_json(record)).hexdigest()
    assert item.content_hash == content_hash(record)
    row = item.as_row("c1", at(0))
    assert row.record_json == item.record_json
    # A row read back (no encoding) is still the same row.
    assert row == dataclasses.replace(row, record_json=None)


def test_memory_storage_keeps_no_encoding_with_its_rows(
    storage_and_cluster: tuple[MemoryStorage, str],
) -> None:
    storage, cluster_id = storage_and_cluster
    snapshot(storage, cluster_id, at(0), {"Pod": [pod("p1")]})
    stored = storage.get_resource(cluster_id, "p1")
    assert stored is not None and stored.record_json is None


def test_ingestion_leaves_the_interpreters_collector_alone(
    storage_and_cluster: tuple[MemoryStorage, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An embedding service keeps its collector: obsyk_core changes no process-wide state.
    storage, cluster_id = storage_and_cluster
    seen_during_write: list[bool] = []
    write = MemoryStorage.ingest

    def watching(self: MemoryStorage, cid: str, **scope: Any) -> Any:
        seen_during_write.append(gc.isenabled())
        return write(self, cid, **scope)

    monkeypatch.setattr(MemoryStorage, "ingest", watching)
    assert gc.isenabled()
    many = [pod(f"p{index}") for index in range(100)]
    snapshot(storage, cluster_id, at(0), {"Pod": many})
    events(storage, cluster_id, at(1), *(added(pod(f"q{index}")) for index in range(100)))
    assert seen_during_write == [True, True]
    assert gc.isenabled()
