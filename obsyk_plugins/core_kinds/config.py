"""ConfigMap and Secret: key names only, never a value.

The default extractors (:func:`extract_configmap`, :func:`extract_secret`)
send what upstream sends: ``data_keys`` / ``binary_keys`` (sorted, so the
record's content hash does not depend on map order) and ``immutable``.

**Extension, "secrets hashed before transmission"** (CONTRACT.md section 4):
an operator that holds a per-installation key builds its extractors with
:func:`make_secret_extractor` / :func:`make_configmap_extractor`, which add
``data_hashes`` ``{key: hex HMAC-SHA256(hmac_key, value)}``.  The platform can
then tell *that* a value changed without being able to learn or guess it; the
key never leaves the cluster.  We chose factories (rather than a flag on one
extractor) because a :class:`~obsyk_core.kinds.ResourceKind` holds a
one-argument ``extract``: the kinds declare them as their
``data_hash_extractor``, and the operator, which holds the key, swaps
``extract`` for ``kind.data_hash_extractor(key)``.  The value
hashed is the decoded bytes (a Secret's base64 is undone first), so the hash
names the value itself, not its transport encoding.  :func:`secret_data_hashes` and
:func:`configmap_data_hashes` are the building blocks for anyone composing
their own extractor.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Iterable
from typing import Any

from obsyk_core.kinds import Column, DisplayHints, Extractor, RawObject, Record, ResourceKind
from obsyk_plugins.core_kinds.metadata import CREATED, base_record, set_if
from obsyk_plugins.core_kinds.record_schema import (
    NamespacedRecordSchema,
    optional_boolean,
    optional_string,
    string_list,
    string_map,
)

#: Shorter keys are guessable enough to defeat the point of hashing.
MIN_HMAC_KEY_BYTES = 16


def extract_configmap(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    set_if(record, "data_keys", sorted(raw.get("data") or ()))
    set_if(record, "binary_keys", sorted(raw.get("binaryData") or ()))
    record["immutable"] = bool(raw.get("immutable"))
    return record


def extract_secret(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    set_if(record, "type", raw.get("type"))
    set_if(record, "data_keys", sorted(raw.get("data") or ()))
    record["immutable"] = bool(raw.get("immutable"))
    return record


def secret_data_hashes(raw: RawObject, hmac_key: bytes) -> dict[str, str]:
    """``{key: hex HMAC-SHA256}`` of a Secret's values (its base64 ``data`` decoded first)."""
    _check_key(hmac_key)
    return _hashes(hmac_key, (raw.get("data") or {}).items(), decode=True)


def configmap_data_hashes(raw: RawObject, hmac_key: bytes) -> dict[str, str]:
    """``{key: hex HMAC-SHA256}`` of ConfigMap values (``data`` as UTF-8, binaryData decoded)."""
    _check_key(hmac_key)
    hashes = _hashes(hmac_key, (raw.get("data") or {}).items(), decode=False)
    hashes.update(_hashes(hmac_key, (raw.get("binaryData") or {}).items(), decode=True))
    return dict(sorted(hashes.items()))


def make_secret_extractor(hmac_key: bytes | None) -> Extractor:
    """The Secret extractor, adding ``data_hashes`` when given a key (``None``: as upstream)."""
    return _with_hashes(extract_secret, secret_data_hashes, hmac_key)


def make_configmap_extractor(hmac_key: bytes | None) -> Extractor:
    """The ConfigMap extractor, adding ``data_hashes`` given a key (``None``: as upstream)."""
    return _with_hashes(extract_configmap, configmap_data_hashes, hmac_key)


def _hashes(hmac_key: bytes, items: Iterable[tuple[str, Any]], *, decode: bool) -> dict[str, str]:
    return {
        key: hmac.digest(hmac_key, _b64(value) if decode else str(value).encode(), "sha256").hex()
        for key, value in sorted(items)
    }


def _with_hashes(
    extract: Extractor,
    hash_values: Callable[[RawObject, bytes], dict[str, str]],
    hmac_key: bytes | None,
) -> Extractor:
    if hmac_key is None:
        return extract
    _check_key(hmac_key)
    key = bytes(hmac_key)

    def extract_with_hashes(raw: RawObject) -> Record:
        record = extract(raw)
        set_if(record, "data_hashes", hash_values(raw, key))
        return record

    extract_with_hashes.__name__ = f"{extract.__name__}_with_hashes"
    return extract_with_hashes


def _check_key(hmac_key: Any) -> None:
    if not isinstance(hmac_key, bytes | bytearray) or len(hmac_key) < MIN_HMAC_KEY_BYTES:
        raise ValueError(
            f"the data-hash key must be at least {MIN_HMAC_KEY_BYTES} random bytes "
            "(generate one with secrets.token_bytes(32))"
        )


def _b64(value: Any) -> bytes:
    text = str(value)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        # Not valid base64 (a hand-written object): hash the text as is rather than fail.
        return text.encode()


# ----------------------------------------------------------------- schemas


class ConfigMapSchema(NamespacedRecordSchema):
    data_keys = string_list()
    binary_keys = string_list()
    immutable = optional_boolean()
    data_hashes = string_map()


class SecretSchema(NamespacedRecordSchema):
    type = optional_string()
    data_keys = string_list()
    immutable = optional_boolean()
    data_hashes = string_map()


# ----------------------------------------------------------------- kinds

CONFIGMAP = ResourceKind(
    kind="ConfigMap",
    group="",
    version="v1",
    plural="configmaps",
    namespaced=True,
    snapshot_key="configmaps",
    extract=extract_configmap,
    schema=ConfigMapSchema,
    data_hash_extractor=make_configmap_extractor,
    display=DisplayHints(
        category="Config",
        columns=(
            "name",
            "namespace",
            Column("data_keys", "list", label="keys"),
            Column("immutable", "boolean"),
            CREATED,
        ),
    ),
)

SECRET = ResourceKind(
    kind="Secret",
    group="",
    version="v1",
    plural="secrets",
    namespaced=True,
    snapshot_key="secrets",
    extract=extract_secret,
    schema=SecretSchema,
    data_hash_extractor=make_secret_extractor,
    display=DisplayHints(
        category="Config",
        columns=("name", "namespace", "type", Column("data_keys", "list", label="keys"), CREATED),
    ),
)
