"""What the operator remembers about the cluster: extracted records and their hashes.

Raw objects are dropped as soon as they are extracted (a Secret's values never
stay in memory longer than one extraction), so memory is bounded by the size of
the records, not of the API objects.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from obsyk_core.hashing import content_hash, kind_digest
from obsyk_operator.changes import Change


@dataclass(frozen=True, slots=True)
class CachedObject:
    uid: str
    name: str
    namespace: str | None
    record: dict[str, Any]
    content_hash: str
    resource_version: str | None

    @classmethod
    def from_record(
        cls, record: dict[str, Any], *, resource_version: str | None = None
    ) -> CachedObject:
        return cls(
            uid=str(record["uid"]),
            name=str(record.get("name", "")),
            namespace=record.get("namespace") or None,
            record=record,
            content_hash=content_hash(record),
            resource_version=resource_version,
        )


class KindCache:
    """One kind's cached objects by uid; callers hold :attr:`lock` across read-modify-write."""

    def __init__(self, kind: str, lock: threading.RLock) -> None:
        self.kind = kind
        self.lock = lock
        self._objects: dict[str, CachedObject] = {}

    def get(self, uid: str) -> CachedObject | None:
        return self._objects.get(uid)

    def put(self, obj: CachedObject) -> None:
        self._objects[obj.uid] = obj

    def remove(self, uid: str) -> CachedObject | None:
        return self._objects.pop(uid, None)

    def __len__(self) -> int:
        return len(self._objects)

    def __iter__(self) -> Iterator[CachedObject]:
        return iter(list(self._objects.values()))

    def records(self) -> list[dict[str, Any]]:
        with self.lock:
            return [obj.record for obj in self._objects.values()]

    def digest(self) -> str:
        with self.lock:
            return kind_digest((o.uid, o.content_hash) for o in self._objects.values())


class LocalCache:
    """One :class:`KindCache` per watched kind, sharing one lock.

    The shared lock lets a snapshot read every kind at one instant.
    """

    def __init__(self, kinds: Iterable[str]) -> None:
        self.lock = threading.RLock()
        self.kinds = {kind: KindCache(kind, self.lock) for kind in kinds}

    def __getitem__(self, kind: str) -> KindCache:
        return self.kinds[kind]

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {kind: len(cache) for kind, cache in self.kinds.items()}

    def digests(self) -> dict[str, str]:
        with self.lock:
            return {kind: cache.digest() for kind, cache in self.kinds.items()}


def diff_listing(
    cache: KindCache, listed: dict[str, CachedObject], *, namespace: str | None = None
) -> list[Change]:
    """The changes that turn ``cache`` into ``listed`` (a fresh LIST), applied to the cache.

    After a watch gap (410 Gone) this is how adds, updates and, above all,
    deletes that happened while nobody watched are found.  ``namespace``: the
    LIST covered only that namespace, so only cached objects of that namespace
    can have been deleted (the kind's other namespaces are other watchers' LISTs).
    """
    changes: list[Change] = []
    with cache.lock:
        for uid, obj in listed.items():
            known = cache.get(uid)
            if known is None or known.content_hash != obj.content_hash:
                changes.append(_change(cache.kind, "added" if known is None else "modified", obj))
            cache.put(obj)
        for known in cache:
            if namespace is not None and known.namespace != namespace:
                continue
            if known.uid not in listed:
                cache.remove(known.uid)
                changes.append(_change(cache.kind, "deleted", known))
    return changes


def _change(kind: str, type_: Any, obj: CachedObject) -> Change:
    return Change(
        kind=kind,
        type=type_,
        uid=obj.uid,
        name=obj.name,
        namespace=obj.namespace,
        record=None if type_ == "deleted" else obj.record,
        resource_version=obj.resource_version,
    )
