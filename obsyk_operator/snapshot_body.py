"""Snapshot request bodies, spliced together from the cache's compact records.

A snapshot of 100,000 Pods as Python dicts is about 650 MiB; as JSON about
230 MB.  Neither may be held at once (the operator's limit is 256 MiB), so the
bodies are written straight from what the cache stores: each record's canonical
JSON, inflated one at a time and copied into the body as bytes, never parsed.

* :class:`StreamedSnapshot`: the snapshot as one body (what every platform
  understands), produced piece by piece while it is sent.  Its ``len()`` is the
  exact byte count, so it goes with a ``Content-Length`` (one extra inflate pass,
  about 4 us a record) rather than chunked transfer encoding, which some proxies
  in front of a platform refuse on requests.
* :func:`chunk_bodies`: the snapshot as chunks of one ``snapshot_id`` (the
  CONTRACT.md chunking extension), each built only when the previous one has
  been sent, so memory is about one chunk.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from obsyk_operator.local_cache import CachedObject

#: Pieces handed to the socket: big enough to keep syscalls few, small enough not to matter.
PIECE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Section:
    """One kind's array in a snapshot: its snapshot key and the cached objects it carries."""

    key: str
    objects: Sequence[CachedObject]


def _fields(fields: dict[str, Any]) -> bytes:
    """``fields`` as the inside of a JSON object (no braces): ``"a":1,"b":2``."""
    return orjson.dumps(fields)[1:-1]


def _array_open(key: str) -> bytes:
    return orjson.dumps(key) + b":["


class StreamedSnapshot:
    """One complete snapshot body; iterate for its bytes (as often as needed), ``len()`` for size.

    ``sections`` must be a consistent view taken under the cache lock: the
    cached objects are immutable, so iterating later reads that same instant.
    """

    def __init__(self, header: dict[str, Any], sections: Sequence[Section]) -> None:
        self.header = _fields(header)
        self.sections = sections
        self._length: int | None = None

    def __iter__(self) -> Iterator[bytes]:
        buffer = bytearray(b"{" + self.header)
        for section in self.sections:
            buffer += b"," + _array_open(section.key)
            for index, obj in enumerate(section.objects):
                if index:
                    buffer += b","
                buffer += obj.canonical
                if len(buffer) >= PIECE_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
            buffer += b"]"
        buffer += b"}"
        yield bytes(buffer)

    def __len__(self) -> int:
        if self._length is None:
            size = 2 + len(self.header)  # braces
            for section in self.sections:
                size += 1 + len(_array_open(section.key)) + 1  # comma, "key":[ and ]
                size += max(len(section.objects) - 1, 0)  # commas between records
                size += sum(len(obj.canonical) for obj in section.objects)
            self._length = size
        return self._length


def chunk_bodies(
    header: dict[str, Any],
    sections: Sequence[Section],
    *,
    chunk_bytes: int,
    snapshot_id: str | None = None,
) -> Iterator[bytes]:
    """The snapshot as bodies of about ``chunk_bytes`` of records each, made one at a time.

    All of it fits in one chunk: a single plain body, without chunk fields.
    Otherwise every body carries ``snapshot_id``, ``chunk`` and ``final``, and
    kinds with no objects ride in the first chunk (the platform sweeps every
    kind seen in any chunk, so an empty kind must be seen somewhere).
    """
    snapshot_id = snapshot_id or str(uuid.uuid4())
    chunk: dict[str, list[bytes]] = {s.key: [] for s in sections if not s.objects}
    used = 0
    number = 0
    for section in sections:
        for obj in section.objects:
            record = obj.canonical
            size = len(record) + 1
            if used and used + size > chunk_bytes:
                fields = {"snapshot_id": snapshot_id, "chunk": number, "final": False}
                yield _body(header | fields, chunk)
                chunk, used, number = {}, 0, number + 1
            chunk.setdefault(section.key, []).append(record)
            used += size
    if number == 0:
        yield _body(header, chunk)
        return
    yield _body(header | {"snapshot_id": snapshot_id, "chunk": number, "final": True}, chunk)


def _body(fields: dict[str, Any], arrays: dict[str, list[bytes]]) -> bytes:
    parts = [b"{", _fields(fields)]
    for key, records in arrays.items():
        parts += [b",", _array_open(key), b",".join(records), b"]"]
    parts.append(b"}")
    return b"".join(parts)
