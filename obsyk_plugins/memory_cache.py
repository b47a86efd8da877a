"""In-process cache (``memory://``): the embedded default, and the reference for Redis.

Shared by the threads of one process only; TTLs are measured on a monotonic
clock so a wall-clock jump neither resurrects nor kills entries early.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from obsyk_core.cache import Cache
from obsyk_core.plugins import hookimpl
from obsyk_core.registries import CacheRegistry


class MemoryCache(Cache):
    """A dict of ``key -> (value, expires_at)`` behind one lock."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[bytes, float]] = {}

    def add(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        with self._lock:
            if self._live_value(key) is not None:
                return False
            self._store(key, value, ttl_seconds)
            return True

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._live_value(key)

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        with self._lock:
            self._store(key, value, ttl_seconds)

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def incr(self, key: str, ttl_seconds: int) -> int:
        with self._lock:
            current = self._live_value(key)
            if current is None:
                self._store(key, b"1", ttl_seconds)
                return 1
            try:
                value = int(current) + 1
            except ValueError:
                raise ValueError(f"cache key {key!r} does not hold an integer") from None
            # Like Redis INCR: the counter keeps the expiry it was created with.
            self._entries[key] = (str(value).encode(), self._entries[key][1])
            return value

    def _live_value(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        return value

    def _store(self, key: str, value: bytes, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        self._prune_expired_occasionally()
        self._entries[key] = (value, self._clock() + ttl_seconds)

    def _prune_expired_occasionally(self) -> None:
        # Expired entries are dropped lazily on read; sweep now and then so keys
        # never read again (one-shot jtis) do not accumulate forever.
        if len(self._entries) % 1024 == 0 and self._entries:
            now = self._clock()
            for key in [k for k, (_, exp) in self._entries.items() if now >= exp]:
                del self._entries[key]


def open_memory_cache(url: str) -> MemoryCache:
    return MemoryCache()


@hookimpl(trylast=True)
def obsyk_register_caches(registry: CacheRegistry) -> None:
    registry.register("memory", open_memory_cache)
