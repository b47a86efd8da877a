"""Rows encoded in PostgreSQL's ``COPY ... FROM STDIN`` text format, ready to send.

psycopg's ``Copy.write_row`` adapts every value through its dumper machinery;
for a 100,000-resource snapshot that Python work competes for the CPU with the
server parsing the same rows.  Our rows have a handful of known column types,
so each is encoded directly (JSON by orjson, once) and whole lines are sent
with ``Copy.write``.

The text format (PostgreSQL docs, "COPY", File Formats): columns separated by
a tab, rows ended by a newline, ``\\N`` for NULL, and a backslash, tab, newline
or carriage return inside a value escaped with a backslash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
import psycopg

NULL = b"\\N"
#: Lines are sent in chunks about this big: large enough to amortise the call,
#: small enough that the server starts parsing while the rest is encoded.
CHUNK_BYTES = 256 * 1024

_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")
_NEEDS_ESCAPE_BUT_TAB = re.compile(r"[\\\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def text(value: str) -> bytes:
    if _NEEDS_ESCAPE.search(value) is None:
        return value.encode()
    return value.translate(_ESCAPES).encode()


def texts(*values: str) -> bytes:
    """Adjacent text columns, tab-separated: one check and one encoding for the lot.

    The joined line needs escaping only if a value holds a tab (more tabs than
    the separators) or one of the other special characters.
    """
    line = "\t".join(values)
    if line.count("\t") == len(values) - 1 and _NEEDS_ESCAPE_BUT_TAB.search(line) is None:
        return line.encode()
    return b"\t".join([text(value) for value in values])


def json_document(value: Any) -> bytes:
    """``value`` as JSON for a ``jsonb`` column.

    orjson writes no whitespace between tokens and escapes control characters
    inside strings (``\\n`` as the two characters backslash, n), so a
    backslash is the only byte COPY would misread: it is doubled.
    """
    return json_encoded(orjson.dumps(value))


def json_encoded(encoded: bytes) -> bytes:
    """JSON that orjson already encoded, for a ``jsonb`` column (see :func:`json_document`)."""
    return encoded.replace(b"\\", b"\\\\")


def optional_json_document(value: Any | None) -> bytes:
    return NULL if value is None else json_document(value)


def integer(value: int | None) -> bytes:
    return NULL if value is None else str(value).encode()


class Timestamps:
    """Encodes aware datetimes, remembering each one (a batch shares a few times)."""

    def __init__(self) -> None:
        self._encoded: dict[datetime, bytes] = {}

    def __call__(self, value: datetime | None) -> bytes:
        if value is None:
            return NULL
        encoded = self._encoded.get(value)
        if encoded is None:
            if value.tzinfo is None:
                # The same refusal as the SQLAlchemy path (models.UTCDateTime).
                raise ValueError(f"naive datetime {value!r}: storage takes timezone-aware UTC")
            encoded = self._encoded[value] = value.isoformat().encode()
        return encoded


def copy_lines(
    cursor: psycopg.Cursor[Any], table: str, columns: str, lines: Iterable[bytes]
) -> None:
    """``COPY table (columns) FROM STDIN`` with already encoded lines (each ending in ``\\n``)."""
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            chunk.append(line)
            size += len(line)
            if size >= CHUNK_BYTES:
                copy.write(b"".join(chunk))
                chunk.clear()
                size = 0
        if chunk:
            copy.write(b"".join(chunk))
