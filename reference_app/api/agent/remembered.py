"""Facts that, once true, stay true: remembered per process to spare a database round trip.

Used for a cluster's ``cluster_uid`` binding and for which org a cluster belongs
to; both can only stop holding when the cluster is deleted, which each user
of this memory detects on its own (see their modules).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

#: Pairs remembered per process: far more clusters than one platform serves.
MAX_REMEMBERED_PAIRS = 10_000


class RememberedPairs:
    """A bounded, thread-safe set of pairs, each remembered for ``ttl_seconds``.

    Beyond ``max_entries`` the oldest go first.
    """

    def __init__(
        self,
        *,
        max_entries: int = MAX_REMEMBERED_PAIRS,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        #: Monotonic seconds; replaceable so tests can let time pass.
        self.clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def knows(self, first: str, second: str) -> bool:
        key = (first, second)
        with self._lock:
            seen_at = self._seen.get(key)
            if seen_at is None:
                return False
            if self.clock() - seen_at >= self.ttl_seconds:
                del self._seen[key]
                return False
            return True

    def remember(self, first: str, second: str) -> None:
        key = (first, second)
        with self._lock:
            self._seen[key] = self.clock()
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
