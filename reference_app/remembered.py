"""Per-process memories that spare a database round trip: bounded, expiring, thread-safe.

Each user says why its facts may be remembered and for how long: a cluster's
``cluster_uid`` binding and the org a cluster belongs to can only stop holding
when the cluster is deleted; a credential's revocation status may be stale for
at most the revocation window.  Every memory is bounded, so a platform serving
far more clusters than usual still has a fixed footprint: beyond ``max_entries``
the least recently stored entries go first (they are simply read again).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

#: Entries remembered per memory: far more clusters (or credentials) than one platform serves.
MAX_REMEMBERED = 10_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RememberedValues(Generic[K, V]):
    """A bounded, thread-safe map whose entries are forgotten ``ttl_seconds`` after stored."""

    def __init__(
        self,
        *,
        max_entries: int = MAX_REMEMBERED,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        #: Monotonic seconds; replaceable so tests can let time pass.
        self.clock = clock
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value stored under ``key`` less than ``ttl_seconds`` ago, else ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.clock() - entry[1] >= self.ttl_seconds:
                del self._entries[key]
                return None
            return entry[0]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = (value, self.clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class RememberedPairs:
    """A bounded, thread-safe set of pairs, each remembered for ``ttl_seconds``."""

    def __init__(
        self,
        *,
        max_entries: int = MAX_REMEMBERED,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seen: RememberedValues[tuple[str, str], bool] = RememberedValues(
            max_entries=max_entries, ttl_seconds=ttl_seconds, clock=clock
        )

    def knows(self, first: str, second: str) -> bool:
        return self._seen.get((first, second)) is not None

    def remember(self, first: str, second: str) -> None:
        self._seen.put((first, second), True)
