"""Pause Python's cyclic garbage collector while the operator lists a page.

Decoding and projecting a page of Kubernetes objects creates tens of
thousands of short-lived dicts and lists; each allocation burst triggers
collections that walk every tracked object (the local cache included).  These
objects are trees that reference counting frees, so pausing the collector
loses nothing, and it makes a LIST ~1.3x cheaper in CPU and ~1.5x faster
(``bench/operator_list.py --collector-rounds``, bench/RESULTS.md 2026-12-05).
The platform does not pause it: for ingestion the pause gained ~11 % end to
end, under the 15 % that a trick must earn.

The operator's watchers LIST in their own threads, so one process-wide
counter is shared by every pause: the collector comes back on only when the
last pause ends, and only if it was on before the first.  Under steady
overlapping pauses the count may never reach zero, which would leave cyclic
garbage uncollected for as long as they last; so a pause that ends after the
collector has been off for longer than :data:`MAX_OFF_SECONDS` runs one full
collection itself: a bounded cost instead of an unbounded leak.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Longest the collector stays off while pauses keep overlapping.
MAX_OFF_SECONDS = 5.0

_lock = threading.Lock()
_pauses = 0
_was_enabled = False
_off_since = 0.0
#: Replaceable in tests.
clock: Callable[[], float] = time.monotonic


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the ``with`` block (reentrant, thread-safe)."""
    global _pauses, _was_enabled, _off_since
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            _off_since = clock()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        collect = False
        with _lock:
            _pauses -= 1
            if _pauses == 0:
                if _was_enabled:
                    gc.enable()
            elif _was_enabled and clock() - _off_since > MAX_OFF_SECONDS:
                # Other pauses are still running: collect now rather than never.
                _off_since = clock()
                collect = True
        if collect:
            gc.collect()
