"""Values that COPY's text format would misread are stored exactly, on every path that writes.

The PostgreSQL backend encodes rows for ``COPY`` itself (``copy_text``): a
backslash, tab, newline or carriage return in a name, a label or anywhere in
a record must come back byte for byte, in the live row and in history.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from obsyk_core.ingest import IncomingResource
from obsyk_core.storage import ChangeType, ResourceQuery, Storage
from obsyk_core.testing.builders import added, at, deleted, events, modified, snapshot
from obsyk_plugins.sql_storage import copy_text
from obsyk_plugins.sql_storage.pg_bulk import SMALL_WRITE_ROWS

#: Every character COPY's text format treats specially, plus look-alikes of its markers.
AWKWARD = 'back\\slash tab\there new\nline cr\rend \\N \\. "quoted" ünïcødé ☸'


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    opened = request.getfixturevalue(f"{request.param}_storage_factory")()
    yield opened
    opened.close()


def _cluster(storage: Storage) -> str:
    org = storage.create_org("acme")
    return storage.create_cluster(org.id, "prod").id


def _awkward_config_map(uid: str, value: str = AWKWARD) -> IncomingResource:
    record: dict[str, Any] = {
        "uid": uid,
        "name": f"cm-{uid}",
        "namespace": "default",
        "labels": {"app": "web", "note": value},
        "annotations": {"description": value, "path": "C:\\Program Files\\x"},
        "data_keys": [value, "\\", "\t", "\n"],
        "nested": {"deeper": {"value": value, "escaped_quote": 'say "\\"hi\\""'}},
    }
    return IncomingResource.from_record("ConfigMap", record)


def test_a_first_snapshot_stores_awkward_text_exactly_in_rows_and_history(
    storage: Storage,
) -> None:
    cluster = _cluster(storage)
    item = _awkward_config_map("u1")
    snapshot(storage, cluster, at(0), {"ConfigMap": [item]})

    row = storage.get_resource(cluster, "u1")
    assert row is not None
    assert row.record == item.record
    assert (row.labels, row.annotations) == (item.labels, item.annotations)
    history = storage.resource_history(cluster, "u1")
    assert [(v.change, v.record) for v in history] == [(ChangeType.ADDED, item.record)]


def test_merged_rows_and_sent_versions_keep_awkward_text_too(storage: Storage) -> None:
    cluster = _cluster(storage)
    first = _awkward_config_map("u1")
    snapshot(storage, cluster, at(0), {"ConfigMap": [first]})
    # A stored row changed (the merge path), then, in one batch, changed again
    # and deleted: the intermediate version is sent, not copied from a row.
    second = _awkward_config_map("u1", value=AWKWARD + " v2")
    third = _awkward_config_map("u1", value="\\" + AWKWARD + " v3")
    events(storage, cluster, at(5), modified(second, seq=1))
    events(storage, cluster, at(10), modified(third, seq=1), deleted(third, seq=2))

    history = storage.resource_history(cluster, "u1")
    assert [(v.change, v.record) for v in history] == [
        (ChangeType.ADDED, first.record),
        (ChangeType.MODIFIED, second.record),
        (ChangeType.MODIFIED, third.record),
        (ChangeType.DELETED, None),
    ]
    as_of = storage.query_resources(ResourceQuery(cluster_ids=(cluster,), as_of=at(7)))
    assert [(r.record, r.labels) for r in as_of] == [(second.record, second.labels)]


def test_awkward_identity_fields_are_stored_exactly(storage: Storage) -> None:
    cluster = _cluster(storage)
    record = {"uid": "uid\\with\ttab", "name": "name\nwith\\newline", "namespace": "ns\\x"}
    item = IncomingResource.from_record("ConfigMap", record)
    events(storage, cluster, at(0), added(item))

    row = storage.get_resource(cluster, "uid\\with\ttab")
    assert row is not None
    assert (row.name, row.namespace, row.record) == (item.name, "ns\\x", item.record)


def test_a_naive_arrival_time_is_refused_and_nothing_is_written(storage: Storage) -> None:
    cluster = _cluster(storage)
    with pytest.raises(ValueError, match="naive datetime"):
        snapshot(
            storage,
            cluster,
            datetime(2024, 5, 1, 10, 0),
            {"ConfigMap": [_awkward_config_map("u1")]},
        )
    assert storage.get_resource(cluster, "u1") is None
    assert storage.resource_history(cluster, "u1") == []


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("plain", b"plain"),
        ("a\\b", b"a\\\\b"),
        ("a\tb\nc\rd", b"a\\tb\\nc\\rd"),
        ("\\N", b"\\\\N"),
        ("ü", "ü".encode()),
    ],
)
def test_text_values_are_escaped_for_copy(value: str, encoded: bytes) -> None:
    assert copy_text.text(value) == encoded


def test_json_documents_double_only_backslashes() -> None:
    encoded = copy_text.json_document({"k": 'tab\there \\ quote"', "n": 1})
    # orjson already writes the tab as the two characters \t; COPY must see \\t.
    assert encoded == b'{"k":"tab\\\\there \\\\\\\\ quote\\\\"","n":1}'
    assert b"\t" not in encoded and b"\n" not in encoded


@pytest.mark.parametrize(
    "values",
    [
        ("cluster", "uid", "Pod", "", "name"),
        ("uid\\with\ttab", "name", "ns"),
        ("a", "b\tc", "d"),
        ("new\nline", "cr\r", "\\N"),
        ("ü", "☸"),
        ("one",),
    ],
)
def test_adjacent_text_columns_encode_as_each_would_alone(values: tuple[str, ...]) -> None:
    assert copy_text.texts(*values) == b"\t".join(copy_text.text(value) for value in values)


def test_a_bulk_write_stores_awkward_identity_fields_and_records_exactly(
    storage: Storage,
) -> None:
    """Enough resources for the COPY path (first snapshot, then a merge and sent versions)."""
    cluster = _cluster(storage)
    count = SMALL_WRITE_ROWS + 6

    def awkward(index: int, value: str) -> IncomingResource:
        # Tabs only in one, other specials in the other: the texts' two slow paths.
        odd = index % 2
        record = {
            "uid": f"uid {index}\twith tab" if odd else f"uid\\{index}\nnew line",
            "name": f"name {index}\twith tab" if odd else f"name\r{index}\\x",
            "namespace": "ns\t",
            "labels": {"note": value},
            "data": [value, f"\\{index}"],
        }
        return IncomingResource.from_record("ConfigMap", record)

    first = [awkward(index, AWKWARD) for index in range(count)]
    snapshot(storage, cluster, at(0), {"ConfigMap": first})
    second = [awkward(index, AWKWARD + " v2") for index in range(count)]
    third = [awkward(index, "\\" + AWKWARD + " v3") for index in range(count)]
    batch = [modified(item, seq=index) for index, item in enumerate(second)]
    batch += [modified(item, seq=count + index) for index, item in enumerate(third)]
    events(storage, cluster, at(5), *batch)

    for one, two, three in zip(first, second, third, strict=True):
        row = storage.get_resource(cluster, one.uid)
        assert row is not None
        assert (row.name, row.namespace, row.record) == (three.name, "ns\t", three.record)
        history = storage.resource_history(cluster, one.uid)
        assert [v.record for v in history] == [one.record, two.record, three.record]
        assert {(v.name, v.namespace) for v in history} == {(one.name, "ns\t")}
