"""The "secrets hashed before transmission" extension (CONTRACT.md section 4).

``data_hashes`` maps each Secret/ConfigMap key to the hex HMAC-SHA256 of its
value, keyed with a per-installation key that never leaves the cluster: the
platform can show *that* a value changed, never learn or guess it.  The
hashes are computed here, on the raw object, right before the raw object is
dropped; the value hashed is the decoded bytes (a Secret's base64 undone), so
the hash names the value, not its transport encoding.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
from collections.abc import Mapping
from typing import Any

from obsyk_core.kinds import RawObject, Record, ResourceKind

HASHED_KINDS = ("Secret", "ConfigMap")


def data_hashes(raw: RawObject, hmac_key: bytes) -> dict[str, str]:
    """``{key: hex HMAC-SHA256(hmac_key, value)}`` for every value of a Secret or ConfigMap."""
    base64_data = raw.get("kind") == "Secret"
    hashes: dict[str, str] = {}
    for key, value in _mapping(raw.get("data")).items():
        payload = _b64(value) if base64_data else str(value).encode()
        hashes[key] = hmac.digest(hmac_key, payload, "sha256").hex()
    for key, value in _mapping(raw.get("binaryData")).items():
        hashes[key] = hmac.digest(hmac_key, _b64(value), "sha256").hex()
    return dict(sorted(hashes.items()))


def with_data_hashes(kind: ResourceKind, hmac_key: bytes) -> ResourceKind:
    """``kind`` whose records carry ``data_hashes`` too (unless its extractor adds them already)."""
    extract = kind.extract
    key = bytes(hmac_key)

    def extract_with_hashes(raw: RawObject) -> Record:
        record = extract(raw)
        if "data_hashes" not in record:
            hashes = data_hashes({**raw, "kind": kind.kind}, key)
            if hashes:
                record["data_hashes"] = hashes
        return record

    return dataclasses.replace(kind, extract=extract_with_hashes)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _b64(value: Any) -> bytes:
    text = str(value)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()  # a hand-written object that is not base64: hash the text
