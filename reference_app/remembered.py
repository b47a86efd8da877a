"""Per-process memories that spare a database round trip: cachetools' TTL cache, made thread-safe.

Each user says why its facts may be remembered, for how long, and which event
makes it forget them (:meth:`Remembered.forget`, :meth:`Remembered.forget_where`):
a cluster's ``cluster_uid`` binding and the org a cluster belongs to stop
holding only when the cluster is deleted; a credential's revocation status may
be stale for at most the revocation window in other processes, and is
forgotten at once in the process that revokes it.  Every memory is bounded, so
a platform serving far more clusters than usual still has a fixed footprint:
beyond ``max_entries`` the least recently used entries go first (they are
simply read again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

#: Entries remembered per memory: far more clusters (or credentials) than one platform serves.
MAX_REMEMBERED = 10_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Remembered(Generic[K, V]):
    """A bounded map whose entries are forgotten ``ttl_seconds`` after they were stored.

    A :class:`cachetools.TTLCache` behind a lock: cachetools' caches are not
    thread-safe, and the app serves requests on several threads.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_entries: int = MAX_REMEMBERED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: Monotonic seconds; replaceable so tests can let time pass.
        self.clock = clock
        self._cache: TTLCache[K, V] = TTLCache(
            maxsize=max_entries, ttl=ttl_seconds, timer=lambda: self.clock()
        )
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value stored under ``key`` less than ``ttl_seconds`` ago, else ``None``."""
        with self._lock:
            return self._cache.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._cache[key] = value

    def forget(self, key: K) -> None:
        with self._lock:
            self._cache.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def forget_where(self, stale: Callable[[K], bool]) -> None:
        """Forget every entry whose key ``stale`` picks (an event ended those facts)."""
        with self._lock:
            for key in [key for key in self._cache if stale(key)]:
                del self._cache[key]

    def __contains__(self, key: K) -> bool:
        with self._lock:
            return key in self._cache

    def __len__(self) -> int:
        with self._lock:
            self._cache.expire()
            return len(self._cache)
