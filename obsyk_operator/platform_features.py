"""What the platform has shown it understands: our extensions are negotiated by presence.

A chunked snapshot sent to a platform without the chunking extension is worse
than refused: a platform that ignores the unknown ``snapshot_id``/``chunk``/
``final`` fields takes every chunk as the complete truth and deletes whatever
that chunk does not carry.  So chunks are used only once the platform has shown
that it speaks the extensions (CONTRACT.md section 2):

* a heartbeat answer carrying a ``resync`` key (the reference platform always
  answers ``{"resync": [...]}``, even to a heartbeat without counts/digests;
  upstream ignores heartbeat bodies and answers anything else), or
* an event batch (``{"cluster_uid", "events": [...]}``) accepted.

A chunk refused with a non-retryable 4xx takes that belief back for good (for
this run): the platform knows some extensions, but not chunking.
"""

from __future__ import annotations

import threading
from typing import Any


class PlatformFeatures:
    """Shared by the shipping and heartbeat threads; ``extensions`` is ``None`` until asked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._extensions: bool | None = None
        self._chunks_refused = False

    @property
    def extensions(self) -> bool | None:
        """True: shown; False: asked and not shown (or refused); None: not asked yet."""
        with self._lock:
            return False if self._chunks_refused else self._extensions

    def heartbeat_answered(self, answer: Any) -> None:
        """Learn from a heartbeat's answer: only the ``resync`` key counts, never its absence
        against earlier proof (a proxy may answer a heartbeat with an empty body)."""
        shown = isinstance(answer, dict) and isinstance(answer.get("resync"), list)
        with self._lock:
            if shown:
                self._extensions = True
            elif self._extensions is None:
                self._extensions = False

    def batch_accepted(self) -> None:
        with self._lock:
            self._extensions = True

    def chunks_refused(self) -> None:
        with self._lock:
            self._chunks_refused = True
