"""Both cache backends honour the same contract: add-once, TTL expiry, counters."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from obsyk_core.cache import Cache, CacheError
from obsyk_core.plugins import build_plugin_manager
from obsyk_plugins import memory_cache, redis_cache


def _open(url: str) -> Cache:
    plugins = build_plugin_manager(
        plugins=[memory_cache, redis_cache], load_entry_points=False, disabled=()
    )
    return plugins.caches.open(url)


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    if request.param == "memory":
        opened = _open("memory://")
    else:
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
        opened = _open(f"{url}?prefix={prefix}")
    yield opened
    opened.close()


def test_add_stores_only_when_absent(cache: Cache) -> None:
    assert cache.add("jti-1", b"first", 60) is True
    assert cache.add("jti-1", b"second", 60) is False
    assert cache.get("jti-1") == b"first"


def test_add_has_exactly_one_winner_among_concurrent_threads(cache: Cache) -> None:
    start = threading.Barrier(8)
    wins: list[bool] = []
    lock = threading.Lock()

    def contend() -> None:
        start.wait()
        won = cache.add("replayed-jti", b"x", 60)
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_set_get_delete(cache: Cache) -> None:
    assert cache.get("missing") is None
    cache.set("k", b"v1", 60)
    cache.set("k", b"v2", 60)
    assert cache.get("k") == b"v2"
    cache.delete("k")
    assert cache.get("k") is None
    cache.delete("k")  # deleting an absent key is fine


def test_incr_counts_from_one_and_is_thread_safe(cache: Cache) -> None:
    assert cache.incr("hits", 60) == 1
    threads = [threading.Thread(target=lambda: cache.incr("hits", 60)) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.incr("hits", 60) == 22


def test_entries_and_counters_expire(cache: Cache) -> None:
    cache.add("short", b"x", 1)
    cache.incr("counter", 1)
    time.sleep(1.2)
    assert cache.get("short") is None
    assert cache.add("short", b"again", 60) is True
    assert cache.incr("counter", 60) == 1


def test_redis_prefix_keeps_deployments_apart(redis_url: str) -> None:
    a = _open(f"{redis_url}?prefix=obsyk-test:{uuid.uuid4().hex}:")
    b = _open(f"{redis_url}?prefix=obsyk-test:{uuid.uuid4().hex}:")
    try:
        assert a.add("same-key", b"a", 60) is True
        assert b.add("same-key", b"b", 60) is True
        assert (a.get("same-key"), b.get("same-key")) == (b"a", b"b")
    finally:
        a.delete("same-key")
        b.delete("same-key")
        a.close()
        b.close()


def test_redis_url_keeps_other_query_parameters() -> None:
    url, prefix = redis_cache.split_prefix("redis://h:6379/2?prefix=p:&socket_timeout=5")
    assert (url, prefix) == ("redis://h:6379/2?socket_timeout=5", "p:")


def test_memory_ttl_follows_the_clock_it_is_given() -> None:
    now = [100.0]
    cache = memory_cache.MemoryCache(clock=lambda: now[0])
    cache.set("k", b"v", 10)
    now[0] = 109.9
    assert cache.get("k") == b"v"
    now[0] = 110.0
    assert cache.get("k") is None


def test_memory_rejects_non_positive_ttl() -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        memory_cache.MemoryCache().set("k", b"v", 0)


def test_redis_unreachable_is_a_cache_error_for_every_operation() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cache = _open(f"redis://127.0.0.1:{port}/0")
    operations = [
        lambda: cache.add("k", b"v", 60),
        lambda: cache.get("k"),
        lambda: cache.set("k", b"v", 60),
        lambda: cache.delete("k"),
        lambda: cache.incr("n", 60),
    ]
    try:
        for operation in operations:
            with pytest.raises(CacheError, match="Redis unavailable"):
                operation()
    finally:
        cache.close()


def test_redis_client_has_timeouts_unless_the_url_sets_its_own() -> None:
    default, _ = redis_cache.redis_client("redis://h:6379/0?prefix=p:")
    tuned, _ = redis_cache.redis_client("redis://h:6379/0?socket_timeout=1.5")
    options = default.connection_pool.connection_kwargs
    assert options["socket_timeout"] == options["socket_connect_timeout"] == 5.0
    assert options["socket_keepalive"] is True
    assert tuned.connection_pool.connection_kwargs["socket_timeout"] == 1.5
