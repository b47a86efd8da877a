"""The send queue: one pending change per object, latest state wins.

Memory is bounded by the number of objects in the cluster, never by the rate
of change or the length of a platform outage, and nothing is dropped: a delete
replaces whatever was pending for the object and stays until it is sent.

A change is *unsettled* from :meth:`CoalescingQueue.put` until the one consumer
calls :meth:`CoalescingQueue.settle` after sending (or putting back) what it
took: the heartbeat leaves such kinds out of its drift digests, since the
platform cannot have them yet.  :meth:`CoalescingQueue.puts_by_kind` tells
it which kinds changed while its answer was on the way.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from obsyk_operator.changes import Change


@dataclass(frozen=True, slots=True)
class QueuedChange:
    change: Change
    #: Monotonic per operator run, in the order changes were observed.
    seq: int


class CoalescingQueue:
    """A FIFO of objects (by ``(kind, uid)``) holding each object's latest change."""

    def __init__(self, *, on_coalesced: Callable[[], None] | None = None) -> None:
        self._pending: OrderedDict[tuple[str, str], QueuedChange] = OrderedDict()
        self._seq = itertools.count(1)
        self._cond = threading.Condition()
        self._on_coalesced = on_coalesced
        #: Taken by the consumer and not yet settled: still on their way to the platform.
        self._in_flight: list[QueuedChange] = []
        self._puts: Counter[str] = Counter()
        self.coalesced = 0

    def put(self, change: Change) -> None:
        with self._cond:
            key = change.key
            if key in self._pending:
                # Keep the object's place in line so a busy object cannot starve quiet ones.
                self.coalesced += 1
                if self._on_coalesced:
                    self._on_coalesced()
            self._pending[key] = QueuedChange(change, next(self._seq))
            self._puts[change.kind] += 1
            self._cond.notify_all()

    def take(self, max_items: int) -> list[QueuedChange]:
        """Remove and return up to ``max_items`` changes, oldest first."""
        with self._cond:
            batch: list[QueuedChange] = []
            while self._pending and len(batch) < max_items:
                batch.append(self._pending.popitem(last=False)[1])
            self._in_flight.extend(batch)
            return batch

    def settle(self) -> None:
        """What was taken is now sent (the platform applied it) or back in the queue."""
        with self._cond:
            self._in_flight.clear()

    def unsettled_kinds(self) -> set[str]:
        """Kinds with a change waiting or on its way: the platform may not have it yet."""
        with self._cond:
            return {kind for kind, _ in self._pending} | {
                item.change.kind for item in self._in_flight
            }

    def requeue(self, batch: Iterable[QueuedChange]) -> None:
        """Put back changes that failed to send, unless a newer change arrived meanwhile."""
        with self._cond:
            for item in reversed(list(batch)):
                key = item.change.key
                if key not in self._pending:
                    self._pending[key] = item
                    self._pending.move_to_end(key, last=False)
            self._cond.notify_all()

    def puts_by_kind(self) -> dict[str, int]:
        """How many changes of each kind were ever put (a kind's count moves on each change)."""
        with self._cond:
            return dict(self._puts)

    def wait(self, timeout: float) -> bool:
        """Block until something is pending (or ``timeout``); return whether something is."""
        with self._cond:
            if not self._pending:
                self._cond.wait(timeout)
            return bool(self._pending)

    def wake(self) -> None:
        """Wake a waiting consumer (to notice a stop or a resync request)."""
        with self._cond:
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._pending)
