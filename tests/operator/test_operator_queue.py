"""The coalescing send queue and the re-list diff, with plain values (no I/O)."""

from __future__ import annotations

import threading

from obsyk_operator.changes import Change
from obsyk_operator.local_cache import CachedObject, KindCache, diff_listing
from obsyk_operator.send_queue import CoalescingQueue


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
