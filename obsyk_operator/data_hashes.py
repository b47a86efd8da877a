"""Secret/ConfigMap ``data_hashes`` (the CONTRACT.md section 4 extension), wired in.

The hashing belongs to the kind: a kind with values that must never leave the
cluster declares ``ResourceKind.data_hash_extractor`` (core_kinds does, for
Secret and ConfigMap), and the operator, which holds the per-installation key,
swaps the kind's ``extract`` for the keyed one.  One Secret is exempt: the one
holding that key.  Its record keeps key names only, like upstream's, because
a hash of the key made with the key is still something derived from the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from obsyk_core.kinds import RawObject, Record, ResourceKind


@dataclass(frozen=True, slots=True)
class SecretRef:
    namespace: str
    name: str

    def names(self, raw: RawObject) -> bool:
        meta = raw.get("metadata") or {}
        return meta.get("namespace") == self.namespace and meta.get("name") == self.name


def with_data_hashes(kind: ResourceKind, hmac_key: bytes, *, key_secret: SecretRef) -> ResourceKind:
    """``kind`` whose records carry ``data_hashes``; unchanged if it has nothing to hash.

    Raises :class:`ValueError` when the kind refuses the key (too short to be safe).
    """
    if kind.data_hash_extractor is None:
        return kind
    keyed = kind.data_hash_extractor(hmac_key)
    if (kind.group, kind.kind) != ("", "Secret"):
        return dataclasses.replace(kind, extract=keyed)
    plain = kind.extract

    def extract_secret(raw: RawObject) -> Record:
        return plain(raw) if key_secret.names(raw) else keyed(raw)

    return dataclasses.replace(kind, extract=extract_secret)
