"""Events of one cluster applied side by side on PostgreSQL lose and reorder nothing.

Events take the cluster's ingestion lock shared, so they run concurrently; two
changes of one object must still apply one at a time, the newer version
winning whatever order they arrive in, and history must list each object's
applied versions in version order.  Many threads send single events and small
batches over a few objects, every version shuffled; then the stored rows and
history are checked against what the versions say.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from obsyk_core.ingest import ResourceEvent, apply_events
from obsyk_core.storage import ChangeType, Storage
from obsyk_core.testing.builders import added, deleted, modified, pod
from obsyk_plugins.sql_storage.pg_bulk import PostgresIngestTransaction

THREADS = 12
#: Objects every thread writes (contended), and versions of each, shuffled.
SHARED_OBJECTS = 4
VERSIONS = 24
#: Objects of their own per thread (uncontended, applied alongside).
OWN_OBJECTS = 2
#: The shared objects whose newest version is a deletion.
DELETED_AT_THE_END = {"shared-0", "shared-2"}


@pytest.fixture
def storage(postgres_storage_factory: Callable[[], Storage]) -> Iterator[Storage]:
    opened = postgres_storage_factory()
    yield opened
    opened.close()


def _version(uid: str, rv: int) -> ResourceEvent:
    """Version ``rv`` of ``uid``; its record says which version it is."""
    item = pod(uid, labels={"rv": str(rv)})
    if rv == VERSIONS and uid in DELETED_AT_THE_END:
        return deleted(item, rv=rv)
    return modified(item, rv=rv)


@pytest.fixture
def slow_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the window between reading a state and writing after it, as a busy server would."""
    load_states = PostgresIngestTransaction.load_states

    def load_then_dawdle(self: PostgresIngestTransaction, **narrowing: Any) -> Any:
        states = load_states(self, **narrowing)
        time.sleep(random.uniform(0, 0.004))
        return states

    monkeypatch.setattr(PostgresIngestTransaction, "load_states", load_then_dawdle)


@pytest.mark.usefixtures("slow_reads")
def test_concurrent_events_lose_and_reorder_no_change(storage: Storage) -> None:
    org = storage.create_org("acme")
    cluster = storage.create_cluster(org.id, "prod").id
    shared = [f"shared-{n}" for n in range(SHARED_OBJECTS)]
    apply_events(
        storage, cluster, [added(pod(uid, labels={"rv": "1"}), rv=1) for uid in shared],
        received_at=datetime.now(UTC),
    )  # fmt: skip
    work: list[list[ResourceEvent]] = [
        [_version(uid, rv)] for uid in shared for rv in range(2, VERSIONS + 1)
    ]
    for thread in range(THREADS):
        own = [f"own-{thread}-{n}" for n in range(OWN_OBJECTS)]
        work.append([added(pod(uid, labels={"rv": "1"}), rv=1) for uid in own])
        # A batch naming a shared object and an own one takes both objects' locks.
        work += [[_version(shared[thread % SHARED_OBJECTS], 2), _version(own[0], 2)]]
    rng = random.Random(8)
    rng.shuffle(work)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        while True:
            with lock:
                if not work:
                    return
                batch = work.pop()
            try:
                apply_events(storage, cluster, batch, received_at=datetime.now(UTC))
            except BaseException as error:  # surfaced below, not swallowed
                errors.append(error)

    threads = [threading.Thread(target=send) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    newest = {uid: VERSIONS for uid in shared}
    for thread in range(THREADS):
        newest |= {f"own-{thread}-0": 2, f"own-{thread}-1": 1}
    for uid, version in newest.items():
        row = storage.get_resource(cluster, uid)
        assert row is not None and row.resource_version == version, uid
        history = storage.resource_history(cluster, uid)
        applied = [VERSIONS if v.record is None else int(v.record["labels"]["rv"]) for v in history]
        # Versions in history in version order, none twice, the newest last.
        assert applied == sorted(set(applied)) and applied[-1] == version, (uid, applied)
        assert history[0].change is ChangeType.ADDED
        if uid in DELETED_AT_THE_END:
            assert row.deleted_at is not None and history[-1].change is ChangeType.DELETED
        else:
            assert row.deleted_at is None and row.labels == {"rv": str(version)}
