"""What is particular to the in-memory backend (its conformance runs in tests/storage)."""

from __future__ import annotations

import uuid

import pytest

from obsyk_core.plugins import Plugins
from obsyk_core.storage import ResourceQuery, Storage
from obsyk_core.testing import at, pod
from obsyk_core.testing.builders import snapshot
from obsyk_plugins.memory_storage import MemoryStorage


def open_memory(installed: Plugins, url: str) -> Storage:
    storage = installed.storage.open(url)
    storage.migrate()
    return storage


def test_each_anonymous_url_opens_an_independent_store(installed: Plugins) -> None:
    first = open_memory(installed, "memory://")
    second = open_memory(installed, "memory://")
    assert isinstance(first, MemoryStorage)
    first.create_org("acme")
    assert second.list_orgs() == []


def test_a_named_store_is_shared_within_the_process(installed: Plugins) -> None:
    name = f"shared-{uuid.uuid4().hex[:8]}"
    writer = open_memory(installed, f"memory://{name}")
    reader = open_memory(installed, f"memory://{name}")
    org = writer.create_org("acme")
    assert reader.get_org("acme") == org
    assert open_memory(installed, f"memory://{name}-other").list_orgs() == []


def test_records_are_copied_in_and_out() -> None:
    storage = MemoryStorage()
    cluster = storage.create_cluster(storage.create_org("acme").id, "prod")
    item = pod("p1", labels={"app": "web"})
    snapshot(storage, cluster.id, at(0), {"Pod": [item]})
    item.record["phase"] = "Failed"  # type: ignore[index]
    row = storage.get_resource(cluster.id, "p1")
    assert row is not None and row.record["phase"] == "Running"
    row.record["phase"] = "Failed"  # type: ignore[index]
    again = storage.query_resources(ResourceQuery(cluster_ids=(cluster.id,)))
    assert again[0].record["phase"] == "Running"


def test_ingesting_into_an_unknown_cluster_fails_and_stores_nothing() -> None:
    storage = MemoryStorage()
    with pytest.raises(LookupError, match="no-such-cluster"):
        snapshot(storage, "no-such-cluster", at(0), {"Pod": [pod("p1")]})
    assert storage.get_resource("no-such-cluster", "p1") is None


def test_rejects_a_url_of_another_scheme() -> None:
    with pytest.raises(ValueError, match="memory://"):
        MemoryStorage("sqlite:///x.db")


class _WithoutStoredStatesOverride(MemoryStorage):
    """A backend written before ``stored_states`` existed: it gets the ABC's default."""

    stored_states = Storage.stored_states


def test_the_default_stored_states_reads_through_an_ingest_transaction() -> None:
    storage = _WithoutStoredStatesOverride()
    cluster = storage.create_cluster(storage.create_org("acme").id, "prod")
    snapshot(storage, cluster.id, at(0), {"Pod": [pod("p1"), pod("p2")]})
    snapshot(storage, cluster.id, at(1), {"Pod": [pod("p1")]})
    with storage.ingest(cluster.id) as tx:
        expected = tx.load_states(kinds=["Pod"])
    states = storage.stored_states(cluster.id, ["Pod", "Node"])
    assert {state.uid: state for state in states} == expected
    assert {state.uid for state in states if state.deleted_at is not None} == {"p2"}
