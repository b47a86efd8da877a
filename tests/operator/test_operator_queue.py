"""The coalescing send queue, the re-list diff and the heartbeat's view of the queue (no I/O)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from obsyk_operator.changes import Change
from obsyk_operator.local_cache import CachedObject, KindCache, LocalCache, diff_listing
from obsyk_operator.send_queue import CoalescingQueue
from obsyk_operator.shipping import ClusterIdentity, HeartbeatLoop


def change(uid: str, type_: str = "modified", version: int = 1, kind: str = "Pod") -> Change:
    record = None if type_ == "deleted" else {"uid": uid, "name": uid, "v": version}
    return Change(kind, type_, uid, uid, "default", record, str(version))  # type: ignore[arg-type]


def test_latest_state_of_an_object_wins_and_memory_is_bounded_by_objects() -> None:
    queue = CoalescingQueue()
    for version in range(1000):
        queue.put(change("a", version=version))
    queue.put(change("b"))
    assert len(queue) == 2
    batch = queue.take(10)
    assert [item.change.uid for item in batch] == ["a", "b"]
    assert batch[0].change.record == {"uid": "a", "name": "a", "v": 999}
    assert queue.coalesced == 999


def test_a_delete_replaces_pending_updates_and_is_kept() -> None:
    queue = CoalescingQueue()
    queue.put(change("a", "added"))
    queue.put(change("a", "deleted", version=2))
    [item] = queue.take(10)
    assert item.change.type == "deleted"


def test_a_busy_object_keeps_its_place_in_line() -> None:
    queue = CoalescingQueue()
    queue.put(change("a"))
    queue.put(change("b"))
    queue.put(change("a", version=2))
    assert [item.change.uid for item in queue.take(10)] == ["a", "b"]


def test_same_uid_of_different_kinds_do_not_coalesce() -> None:
    queue = CoalescingQueue()
    queue.put(change("x", kind="Pod"))
    queue.put(change("x", kind="Secret"))
    assert len(queue) == 2


def test_requeue_puts_failed_changes_first_unless_a_newer_one_arrived() -> None:
    queue = CoalescingQueue()
    queue.put(change("a"))
    queue.put(change("b"))
    failed = queue.take(2)
    queue.put(change("c"))
    queue.put(change("b", version=5))  # newer than the failed b
    queue.requeue(failed)
    items = queue.take(10)
    assert [item.change.uid for item in items] == ["a", "c", "b"]
    assert items[2].change.record == {"uid": "b", "name": "b", "v": 5}


def test_sequence_numbers_follow_observation_order() -> None:
    queue = CoalescingQueue()
    queue.put(change("a"))
    queue.put(change("b"))
    queue.put(change("a", version=2))
    seqs = {item.change.uid: item.seq for item in queue.take(10)}
    assert seqs["a"] > seqs["b"]


def test_wait_wakes_when_a_change_arrives() -> None:
    queue = CoalescingQueue()
    assert queue.wait(0.01) is False
    threading.Timer(0.05, lambda: queue.put(change("a"))).start()
    assert queue.wait(5) is True


def cached(uid: str, version: int) -> CachedObject:
    return CachedObject.from_record({"uid": uid, "name": uid, "v": version}, resource_version="1")


def test_relist_diff_finds_adds_updates_and_deletes_missed_in_a_gap() -> None:
    cache = KindCache("Pod", threading.RLock())
    for obj in (cached("kept", 1), cached("changed", 1), cached("gone", 1)):
        cache.put(obj)
    listed = {o.uid: o for o in (cached("kept", 1), cached("changed", 2), cached("new", 1))}
    changes = {c.uid: c.type for c in diff_listing(cache, listed)}
    assert changes == {"changed": "modified", "new": "added", "gone": "deleted"}
    assert {o.uid for o in cache} == {"kept", "changed", "new"}
    assert diff_listing(cache, listed) == []


def test_changes_are_unsettled_until_the_consumer_settles_what_it_took() -> None:
    queue = CoalescingQueue()
    queue.put(change("a"))
    queue.put(change("d", kind="Deployment"))
    assert queue.unsettled_kinds() == {"Pod", "Deployment"}
    batch = queue.take(1)
    assert queue.unsettled_kinds() == {"Pod", "Deployment"}  # taken, not yet acknowledged
    queue.settle()
    assert queue.unsettled_kinds() == {"Deployment"}
    queue.take(1)
    queue.requeue(batch)  # a failed send puts it back: still unsettled after settling
    queue.settle()
    assert queue.unsettled_kinds() == {"Pod"}


class _RacingPlatform:
    """Answers every heartbeat ``resync: [Pod]``; a Pod change may be queued meanwhile."""

    def __init__(self, queue: CoalescingQueue, *, change_meanwhile: bool) -> None:
        self.queue = queue
        self.change_meanwhile = change_meanwhile
        self.bodies: list[dict[str, Any]] = []

    def post(self, path: str, body: dict[str, Any]) -> Any:
        self.bodies.append(body)
        if self.change_meanwhile:  # sent and applied before the heartbeat was compared
            self.queue.put(change("late"))
            self.queue.take(1)
            self.queue.settle()
        return {"resync": ["Pod"]}

    def post_json(self, path: str, data: Any) -> Any:
        raise AssertionError("a heartbeat is a small JSON body")


@pytest.mark.parametrize("change_meanwhile", [True, False])
def test_a_resync_answer_is_dropped_when_the_kind_changed_while_the_heartbeat_travelled(
    change_meanwhile: bool,
) -> None:
    queue = CoalescingQueue()
    platform = _RacingPlatform(queue, change_meanwhile=change_meanwhile)
    asked: list[str] = []
    heartbeat = HeartbeatLoop(
        client=platform,
        cache=LocalCache(["Pod"]),
        cluster=ClusterIdentity("uid-1", "c"),
        interval=60,
        stop=threading.Event(),
        on_resync=asked.extend,
        unsettled=queue.unsettled_kinds,
        changes_put=queue.puts_by_kind,
    )
    heartbeat.beat()
    assert "Pod" in platform.bodies[0]["digests"]
    # The platform compared a state newer than the body: its answer says nothing about drift.
    assert asked == ([] if change_meanwhile else ["Pod"])
