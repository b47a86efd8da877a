"""Pause Python's cyclic garbage collector around bulk work that makes no cycles.

An opt-in for programs, never called by ``obsyk_core`` itself: an embedding
service keeps its collector.  The reference app pauses it around a large
agent body and the staged-snapshot job, the operator around each LIST page
(bench/ingest_tricks.py measures what it gains; see bench/RESULTS.md).

Decoding and projecting tens of thousands of Kubernetes objects creates
millions of short-lived dicts and lists; each allocation burst triggers
collections that walk every tracked object (a third of a large LIST's time, a
fifth of a snapshot plan's).  These objects are trees that reference counting
frees, so pausing the collector loses nothing.  One process-wide counter is
shared by every caller (the platform's ingestion and the operator's LIST
pages can run in the same process, in several threads): the collector comes
back on only when the last pause ends, and only if it was on before the first.

Under steady overlapping load (a server whose threads each ingest a batch)
the count may never reach zero, which would leave cyclic garbage uncollected
for as long as the load lasts.  So a pause that ends after the collector has
been off for longer than :data:`MAX_OFF_SECONDS` runs one full collection
itself: a bounded cost (a collection every few seconds at most) instead of an
unbounded leak.
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
