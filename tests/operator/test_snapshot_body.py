"""Snapshot bodies spliced from the cache's bytes: exact JSON, and about one chunk of memory."""

from __future__ import annotations

import threading
import tracemalloc
from typing import Any

import orjson
import pytest

from obsyk_core.plugins import build_plugin_manager
from obsyk_operator.local_cache import LocalCache
from obsyk_operator.send_queue import CoalescingQueue
from obsyk_operator.settings import ShippingSettings
from obsyk_operator.shipping import SNAPSHOT_PATH, ClusterIdentity, Shipper
from obsyk_operator.snapshot_body import Section, StreamedSnapshot, chunk_bodies
from obsyk_plugins.core_kinds.testing.samples import synthetic_cluster

HEADER = {"cluster_uid": "c-1", "cluster_name": "prod \u00e9"}


def filled_cache(pods: list[dict[str, Any]], namespaces: list[dict[str, Any]]) -> LocalCache:
    cache = LocalCache(["Pod", "Namespace", "Node"])
    for kind, records in (("Pod", pods), ("Namespace", namespaces)):
        for record in records:
            cache[kind].put(cache[kind].encode(record, resource_version="1"))
    return cache


def sections_of(cache: LocalCache) -> list[Section]:
    keys = {"Pod": "pods", "Namespace": "namespaces", "Node": "nodes"}
    return [Section(key, cache[kind].frozen()) for kind, key in keys.items()]


def realistic_pods(count: int) -> list[dict[str, Any]]:
    kind = build_plugin_manager().kinds.by_kind("Pod")
    template = kind.extract(next(raw for name, raw in synthetic_cluster(40) if name == "Pod"))
    return [{**template, "uid": f"uid-{i}", "name": f"pod-{i}"} for i in range(count)]


ODD_PODS = [
    {"uid": "a", "name": "a", "namespace": "default", "labels": {"app": "web"}},
    {"uid": "b", "name": "b-\u4e2d\U0001f680", "n": [0, -1, 2**62, 1.5, None, True, '"\n']},
]
NAMESPACES = [{"uid": "ns", "name": "default"}]


def test_a_streamed_body_is_the_snapshot_and_its_length_is_exact() -> None:
    body = StreamedSnapshot(HEADER, sections_of(filled_cache(ODD_PODS, NAMESPACES)))
    data = b"".join(body)
    assert orjson.loads(data) == {**HEADER, "pods": ODD_PODS, "namespaces": NAMESPACES, "nodes": []}
    assert len(body) == len(data)
    assert b"".join(body) == data  # a 401 sends it again: it can be read twice


def test_a_large_streamed_body_comes_in_pieces() -> None:
    cache = filled_cache(realistic_pods(400), NAMESPACES)
    pieces = list(StreamedSnapshot(HEADER, sections_of(cache)))
    assert len(pieces) > 5
    assert max(len(piece) for piece in pieces) < 80 * 1024
    assert len(orjson.loads(b"".join(pieces))["pods"]) == 400


def test_chunks_carry_every_record_once_and_empty_kinds_in_the_first() -> None:
    pods = realistic_pods(60)
    bodies = [
        orjson.loads(body)
        for body in chunk_bodies(
            HEADER, sections_of(filled_cache(pods, NAMESPACES)), chunk_bytes=20_000
        )
    ]
    assert len(bodies) > 3
    assert [b["chunk"] for b in bodies] == list(range(len(bodies)))
    assert [b["final"] for b in bodies] == [False] * (len(bodies) - 1) + [True]
    assert len({b["snapshot_id"] for b in bodies}) == 1
    assert all(b["cluster_uid"] == "c-1" for b in bodies)
    assert bodies[0]["nodes"] == []
    assert [p for b in bodies for p in b.get("pods", [])] == pods
    assert [n for b in bodies for n in b.get("namespaces", [])] == NAMESPACES


def test_a_snapshot_that_fits_one_chunk_is_one_plain_body() -> None:
    [body] = chunk_bodies(
        HEADER, sections_of(filled_cache(ODD_PODS, NAMESPACES)), chunk_bytes=1 << 20
    )
    assert orjson.loads(body) == {**HEADER, "pods": ODD_PODS, "namespaces": NAMESPACES, "nodes": []}


class MeasuringPoster:
    """A platform that reads every body like a socket would, keeps only sizes, and tells
    (through its heartbeat answer) whether it speaks the extensions."""

    def __init__(self, *, extensions: bool) -> None:
        self.extensions = extensions
        self.snapshot_bodies: list[int] = []
        self.records = 0

    def post(self, path: str, body: dict[str, Any]) -> Any:
        if path == SNAPSHOT_PATH:  # a shipper that builds dicts: it pays for them here
            return self.post_json(path, orjson.dumps(body))
        return {"resync": []} if self.extensions else {}

    def post_json(self, path: str, data: Any) -> Any:
        size = 0
        for piece in [data] if isinstance(data, bytes) else data:
            size += len(piece)
            self.records += piece.count(b'"uid":"uid-')
        self.snapshot_bodies.append(size)
        return {}


@pytest.mark.parametrize("extensions", [True, False], ids=["chunked", "one-body"])
def test_sending_a_snapshot_holds_about_one_chunk_not_the_whole_cluster(extensions: bool) -> None:
    pods = realistic_pods(3000)  # ~7 MB of JSON; ~20 MB as dicts
    cache = filled_cache(pods, NAMESPACES)
    del pods
    poster = MeasuringPoster(extensions=extensions)
    shipper = Shipper(
        client=poster,
        cache=cache,
        snapshot_keys={"Pod": "pods", "Namespace": "namespaces", "Node": "nodes"},
        queue=CoalescingQueue(),
        cluster=ClusterIdentity(cluster_uid="c-1", cluster_name="prod"),
        settings=ShippingSettings(snapshot_chunk_bytes=256 * 1024),
        stop=threading.Event(),
    )
    shipper.request_snapshot()
    tracemalloc.start()
    try:
        shipper.send_snapshot()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert poster.records == 3000
    assert shipper.snapshots_sent == 1
    assert sum(poster.snapshot_bodies) > 6_000_000
    assert len(poster.snapshot_bodies) > 20 if extensions else len(poster.snapshot_bodies) == 1
    assert peak < 2 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB while sending a snapshot"
