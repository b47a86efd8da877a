"""Content hashes and digests shared by the operator and the platform.

Both sides must compute the same hash for the same record, so this is the one
definition: SHA-256 over canonical JSON (sorted keys, no whitespace).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

_DIGEST_MODULUS = 1 << 256


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's content hash covers: JSON with sorted keys, no whitespace."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def content_hash(record: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the record's canonical JSON."""
    return canonical_digest(canonical_json(record))


def canonical_digest(canonical: bytes) -> str:
    """:func:`content_hash` of the record whose :func:`canonical_json` is ``canonical``."""
    return hashlib.sha256(canonical).hexdigest()


def kind_digest(items: Iterable[tuple[str, str]]) -> str:
    """Order-independent digest of a kind's (uid, content hash) pairs.

    The sum (mod 2**256) of each pair's SHA-256: unlike XOR, a pair present
    twice does not cancel out.  An empty set digests to 64 zeros.
    """
    total = 0
    for uid, digest in items:
        total += int.from_bytes(hashlib.sha256(f"{uid}:{digest}".encode()).digest(), "big")
    return f"{total % _DIGEST_MODULUS:064x}"
