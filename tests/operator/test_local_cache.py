"""The compact local cache and the LIST filling it: exact records, small memory, bounded pages."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterable
from typing import Any

import orjson
import pytest

from obsyk_core.hashing import content_hash, kind_digest
from obsyk_core.plugins import build_plugin_manager
from obsyk_operator.changes import Change
from obsyk_operator.kube_api import JsonObject, ListPage
from obsyk_operator.local_cache import CachedObject, KindCache, LocalCache
from obsyk_operator.watching import KindWatcher
from obsyk_plugins.core_kinds.testing.samples import synthetic_cluster


def sample_records(kind_name: str, total: int = 400) -> list[dict[str, Any]]:
    kind = build_plugin_manager().kinds.by_kind(kind_name)
    return [kind.extract(raw) for name, raw in synthetic_cluster(total) if name == kind_name]


@pytest.mark.parametrize("kind_name", ["Pod", "Deployment", "Secret", "Namespace"])
def test_cached_records_come_back_exactly_with_the_platforms_content_hash(kind_name: str) -> None:
    cache = KindCache(kind_name, threading.RLock())
    records = sample_records(kind_name)
    assert len(records) >= 2
    for record in records:
        cache.put(cache.encode(record, resource_version="7"))
    for record in records:
        cached = cache.get(record["uid"])
        assert cached is not None
        assert cached.record == record
        assert cached.content_hash == content_hash(record)
        assert (cached.name, cached.namespace) == (record["name"], record.get("namespace"))


def test_odd_values_survive_the_round_trip() -> None:
    cache = KindCache("Pod", threading.RLock())
    first = {"uid": "a", "name": "a", "namespace": "default", "labels": {"app": "web"}}
    odd = {
        "uid": "b",
        "name": "b-\u00e9\u4e2d\U0001f680",
        "labels": {},
        "n": [0, -1, 2**62, 1.5, None, True, ""],
        "nested": {"z": {"y": [{"x": '\x00\n"'}]}},
    }
    for record in (first, odd):
        cache.put(cache.encode(record, resource_version=None))
    cached = cache.get("b")
    assert cached is not None and cached.record == odd and cached.namespace is None
    assert cached.content_hash == content_hash(odd)


def test_realistic_pods_cost_a_fraction_of_their_json() -> None:
    cache = KindCache("Pod", threading.RLock())
    records = sample_records("Pod", 1000)
    for record in records:
        cache.put(cache.encode(record, resource_version="1"))
    json_bytes = sum(len(orjson.dumps(r)) for r in records)
    stored = sum(len(obj.data) + len(obj.digest) for obj in cache)
    assert len(records) >= 100
    assert stored < json_bytes / 4, (stored, json_bytes)


def test_a_record_handed_out_is_a_copy_the_caller_may_change() -> None:
    cache = KindCache("Pod", threading.RLock())
    cache.put(cache.encode({"uid": "a", "name": "a", "phase": "Running"}, resource_version="1"))
    [record] = cache.records()
    record["phase"] = "Failed"
    cached = cache.get("a")
    assert cached is not None and cached.record["phase"] == "Running"


def test_an_object_decodes_with_its_own_dictionary_in_any_cache() -> None:
    pods, others = KindCache("Pod", threading.RLock()), KindCache("Other", threading.RLock())
    others.put(others.encode(sample_records("Deployment")[0], resource_version="1"))
    pod = sample_records("Pod")[1]
    others.put(pods.encode(pod, resource_version="1"))
    moved = others.get(pod["uid"])
    assert moved is not None and moved.record == pod


def test_digests_are_the_platforms_over_hex_content_hashes() -> None:
    cache = LocalCache(["Pod"])
    records = sample_records("Pod", 100)
    for record in records:
        cache["Pod"].put(CachedObject.from_record(record))
    assert cache.digests() == {"Pod": kind_digest((r["uid"], content_hash(r)) for r in records)}


# ------------------------------------------------------------------ the LIST


class PagedApi:
    """Serves ``pages`` of raw objects; remembers whether each page was freed when the next came."""

    class Items(list[JsonObject]):
        """A list that can be weakly referenced, to see when a page is freed."""

    def __init__(self, pages: list[list[JsonObject]]) -> None:
        self.pages = [orjson.dumps(page) for page in pages]
        self.previous: weakref.ref[PagedApi.Items] | None = None
        self.previous_freed: list[bool] = []
        self.fail_at: int | None = None

    def list_page(self, path: str, *, limit: int, continue_token: str | None = None) -> ListPage:
        index = int(continue_token or 0)
        if self.previous is not None:
            self.previous_freed.append(self.previous() is None)
        if index == self.fail_at:
            raise RuntimeError("connection reset")
        items = PagedApi.Items(orjson.loads(self.pages[index]))
        self.previous = weakref.ref(items)
        more = str(index + 1) if index + 1 < len(self.pages) else None
        return ListPage(items=items, resource_version="99", continue_token=more)

    def watch(self, path: str, *, resource_version: str) -> Iterable[JsonObject]:
        return []


class RecordingSink:
    def __init__(self) -> None:
        self.changes: list[Change] = []

    def publish(self, change: Change) -> None:
        self.changes.append(change)

    def kind_synced(self, kind: str) -> None:
        pass


def raw_pod(uid: str, phase: str = "Running") -> JsonObject:
    return {
        "metadata": {"uid": uid, "name": uid, "namespace": "default", "resourceVersion": "5"},
        "status": {"phase": phase},
    }


def pod_watcher(api: PagedApi, extract: Any = None) -> tuple[KindWatcher, KindCache, RecordingSink]:
    kind = build_plugin_manager().kinds.by_kind("Pod")
    cache, sink = KindCache("Pod", threading.RLock()), RecordingSink()
    watcher = KindWatcher(
        kind="Pod",
        path="/api/v1/pods",
        api=api,
        extract=extract or kind.extract,
        cache=cache,
        sink=sink,
        stop=threading.Event(),
        page_size=2,
    )
    return watcher, cache, sink


def test_a_list_holds_one_raw_page_at_a_time_and_caches_every_object() -> None:
    api = PagedApi([[raw_pod(f"p{i}{j}") for j in range(2)] for i in range(4)])
    watcher, cache, _ = pod_watcher(api)
    assert watcher.relist() == "99"
    assert api.previous_freed == [True, True, True]
    assert sorted(obj.uid for obj in cache) == [f"p{i}{j}" for i in range(4) for j in range(2)]


def test_a_relist_publishes_exactly_what_changed_with_its_record() -> None:
    api = PagedApi([[raw_pod("kept"), raw_pod("changed")], [raw_pod("gone")]])
    watcher, cache, sink = pod_watcher(api)
    watcher.relist()
    assert sink.changes == []
    api.pages = [orjson.dumps([raw_pod("kept"), raw_pod("changed", "Failed"), raw_pod("new")])]
    watcher.relist()
    by_uid = {c.uid: c for c in sink.changes}
    assert {uid: c.type for uid, c in by_uid.items()} == {
        "changed": "modified",
        "new": "added",
        "gone": "deleted",
    }
    assert by_uid["changed"].record is not None and by_uid["changed"].record["phase"] == "Failed"
    assert sorted(obj.uid for obj in cache) == ["changed", "kept", "new"]


def test_the_collector_is_paused_only_while_a_page_is_parsed() -> None:
    seen: list[bool] = []
    kind = build_plugin_manager().kinds.by_kind("Pod")

    def extract(raw: JsonObject) -> dict[str, Any]:
        seen.append(gc.isenabled())
        return kind.extract(raw)

    api = PagedApi([[raw_pod("a"), raw_pod("b")], [raw_pod("c")]])
    watcher, _, _ = pod_watcher(api, extract)
    assert gc.isenabled()
    watcher.relist()
    assert seen == [False, False, False]
    assert gc.isenabled()

    api.fail_at = 1  # a failing page must not leave the collector off
    with pytest.raises(RuntimeError):
        watcher.relist()
    assert gc.isenabled()
