"""Which staged chunks make up a complete snapshot: the one rule, shared with the storage.

It is the rule of :meth:`obsyk_core.storage.Storage.ready_snapshots`: a snapshot
ends at its lowest-numbered final chunk and is complete once every chunk from 0
to that one is staged.  Chunks numbered after it are not part of the snapshot
(they are dropped with it); anything stricter here would leave a snapshot the
storage calls ready unapplied forever, retried by every recovery run and never
pruned.
"""

from __future__ import annotations

from collections.abc import Iterable

from obsyk_core.storage import StagedChunk


def complete_snapshot(chunks: Iterable[StagedChunk]) -> list[StagedChunk] | None:
    """The chunks 0..final of a complete snapshot, in order; ``None`` while one is missing."""
    by_number = {chunk.chunk: chunk for chunk in chunks}
    finals = [number for number, chunk in by_number.items() if chunk.final]
    if not finals:
        return None
    last = min(finals)
    if any(number not in by_number for number in range(last + 1)):
        return None
    return [by_number[number] for number in range(last + 1)]
