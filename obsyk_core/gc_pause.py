"""Pause Python's cyclic garbage collector around bulk work that makes no cycles.

Decoding and projecting tens of thousands of Kubernetes objects creates
millions of short-lived dicts and lists; each allocation burst triggers
collections that walk every tracked object (a third of a large LIST's time, a
fifth of a snapshot plan's).  These objects are trees that reference counting
frees, so pausing the collector loses nothing.  One process-wide counter is
shared by every caller (the platform's ingestion and the operator's LIST
pages can run in the same process, in several threads): the collector comes
back on only when the last pause ends, and only if it was on before the first.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the ``with`` block (reentrant, thread-safe)."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
