"""Ingestion semantics: how snapshots and events become stored state and history.

Pure logic over :class:`~obsyk_core.storage.Storage`:

* **Snapshot** — the complete truth for every kind it carries: upsert each
  record, tombstone each live resource of a carried kind that is absent; kinds
  not carried are untouched.  One transaction; re-sending it writes nothing.
* **Event** — added/modified upsert, deleted tombstones.  The same event twice
  is a no-op; an event older than what is stored never overwrites it: older by
  ``resource_version`` when both sides have one, else by arrival time.  A
  snapshot carries no version, so a record it changes keeps the stored one.
* **History** — every real change (content hash differs, or a deletion, or a
  revival) appends a :class:`~obsyk_core.storage.ResourceVersion`.

Arrival time matters for snapshots too: a snapshot applied late (staged, then
reconciled by a job) must not undo an event that arrived after it, so a stored
state observed after the snapshot was received is left alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from obsyk_core.hashing import canonical_digest, canonical_json
from obsyk_core.limits import MAX_INTEGER
from obsyk_core.storage import (
    ChangeSet,
    ChangeType,
    ClusterSeen,
    ResourceRow,
    ResourceVersion,
    Storage,
    StoredState,
    Tombstone,
    Touch,
)


@dataclass(frozen=True, slots=True)
class IncomingResource:
    """A validated record on its way in, with what the rules need precomputed."""

    kind: str
    uid: str
    name: str
    namespace: str | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    record: Mapping[str, Any]
    content_hash: str
    #: The record's canonical JSON, which the hash covers: encoded once, and
    #: handed to the backend with the row (:attr:`ResourceRow.record_json`).
    record_json: bytes | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_record(cls, kind: str, record: Mapping[str, Any]) -> IncomingResource:
        encoded = canonical_json(record)
        return cls.from_encoded(kind, record, encoded, canonical_digest(encoded))

    @classmethod
    def from_encoded(
        cls, kind: str, record: Mapping[str, Any], record_json: bytes, content_hash: str
    ) -> IncomingResource:
        """A validated record whose canonical JSON and its digest were computed before.

        For a caller that can prove they belong to ``record`` (a staged chunk
        whose digest still matches): nothing is validated, encoded or hashed.
        """
        return cls(
            kind=kind,
            uid=record["uid"],
            name=record["name"],
            namespace=record.get("namespace") or None,
            labels=record.get("labels") or {},
            annotations=record.get("annotations") or {},
            record=record,
            content_hash=content_hash,
            record_json=record_json,
        )

    def as_row(
        self, cluster_id: str, at: datetime, *, resource_version: int | None = None
    ) -> ResourceRow:
        """This resource as a live row first seen, updated and observed ``at``.

        Written as an upsert, the backend keeps a stored row's ``first_seen_at``.
        """
        return ResourceRow(
            cluster_id=cluster_id,
            uid=self.uid,
            kind=self.kind,
            namespace=self.namespace,
            name=self.name,
            labels=self.labels,
            annotations=self.annotations,
            record=self.record,
            content_hash=self.content_hash,
            first_seen_at=at,
            updated_at=at,
            deleted_at=None,
            resource_version=resource_version,
            observed_at=at,
            record_json=self.record_json,
        )


@dataclass(frozen=True, slots=True)
class ResourceEvent:
    """One change from the operator (CONTRACT section 2, Event)."""

    type: ChangeType
    kind: str
    uid: str
    name: str
    namespace: str | None
    #: The new state; ``None`` for deletions.
    resource: IncomingResource | None
    resource_version: int | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """A committed change, as told to ``obsyk_resource_changed``."""

    cluster_id: str
    uid: str
    kind: str
    namespace: str | None
    name: str
    change: ChangeType
    content_hash: str
    changed_at: datetime


@dataclass(slots=True)
class IngestResult:
    added: int = 0
    modified: int = 0
    deleted: int = 0
    unchanged: int = 0
    #: Changes skipped because the stored state is newer.
    stale: int = 0
    changes: list[ResourceChange] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.added + self.modified + self.deleted


#: Digits of the longest decimal string worth converting (longer ones exceed MAX_INTEGER).
_MAX_INTEGER_DIGITS = len(str(MAX_INTEGER))


def parse_resource_version(value: Any) -> int | None:
    """Kubernetes resourceVersions are opaque strings; compare them only when numeric.

    A number beyond :data:`~obsyk_core.limits.MAX_INTEGER` cannot be stored as one:
    it stays opaque (not compared), like any other non-numeric version.
    """
    # isascii: str.isdigit also takes digits int() refuses ("²").
    if (
        isinstance(value, str)
        and value.isascii()
        and value.isdigit()
        and len(value) <= _MAX_INTEGER_DIGITS
    ):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INTEGER:
        return value
    return None


def reconcile_snapshot(
    storage: Storage,
    cluster_id: str,
    resources: Mapping[str, Sequence[IncomingResource]],
    *,
    received_at: datetime,
    seen: ClusterSeen | None = None,
    staged_snapshot_id: str | None = None,
) -> IngestResult:
    """Make the cluster's stored inventory equal the snapshot for every kind it carries.

    ``resources`` maps each carried kind name to its records (an empty list
    carries the kind: everything of it is deleted).  ``staged_snapshot_id``
    drops that snapshot's staged chunks in the same transaction.
    """
    plan = _Plan(cluster_id, received_at)
    with storage.ingest(cluster_id) as tx:
        states = tx.load_states(kinds=list(resources))
        present: set[str] = set()
        for items in resources.values():
            for item in items:
                present.add(item.uid)
                plan.put(item, states.get(item.uid), resource_version=None)
        for uid, state in states.items():
            if uid not in present and state.deleted_at is None:
                plan.tombstone_state(state, resource_version=state.resource_version)
        tx.write(plan.changes)
        if staged_snapshot_id is not None:
            tx.drop_staged(staged_snapshot_id)
        if seen is not None:
            tx.mark_seen(seen)
    return plan.result


def apply_events(
    storage: Storage,
    cluster_id: str,
    events: Sequence[ResourceEvent],
    *,
    received_at: datetime,
    seen: ClusterSeen | None = None,
) -> IngestResult:
    """Apply changes in order (by ``seq`` when the operator numbered them), atomically."""
    plan = _Plan(cluster_id, received_at)
    ordered = _in_send_order(events)
    uids = {event.uid for event in ordered}
    # Only these objects: events of one cluster need not wait for each other.
    with storage.ingest(cluster_id, uids=uids) as tx:
        states = tx.load_states(uids=uids)
        for event in ordered:
            state = states.get(event.uid)
            if event.type is ChangeType.DELETED:
                new_state = plan.delete(event, state)
            else:
                assert event.resource is not None, "added/modified events carry a record"
                new_state = plan.upsert(
                    event.resource, state, resource_version=event.resource_version
                )
            if new_state is not None:
                states[event.uid] = new_state
        tx.write(plan.changes)
        if seen is not None:
            tx.mark_seen(seen)
    return plan.result


def _in_send_order(events: Sequence[ResourceEvent]) -> list[ResourceEvent]:
    if all(event.seq is not None for event in events):
        return sorted(events, key=lambda event: event.seq or 0)
    return list(events)


class _Plan:
    """Accumulates one transaction's change set, keeping one final row per uid.

    A batch may touch a uid several times; the database sees only its final
    row (PostgreSQL refuses to upsert the same key twice in one statement) but
    history keeps every version.
    """

    def __init__(self, cluster_id: str, received_at: datetime) -> None:
        self.cluster_id = cluster_id
        self.received_at = received_at
        self.result = IngestResult()
        self._rows: dict[str, ResourceRow] = {}
        self._tombstones: dict[str, Tombstone] = {}
        self._touches: dict[str, Touch] = {}
        self._versions: list[ResourceVersion] = []

    @property
    def changes(self) -> ChangeSet:
        return ChangeSet(
            upserts=list(self._rows.values()),
            tombstones=list(self._tombstones.values()),
            versions=self._versions,
            touches=list(self._touches.values()),
        )

    def _is_stale(self, state: StoredState | None, resource_version: int | None) -> bool:
        if state is None:
            return False
        if resource_version is not None and state.resource_version is not None:
            return resource_version <= state.resource_version
        return self.received_at < state.observed_at

    def upsert(
        self,
        item: IncomingResource,
        state: StoredState | None,
        *,
        resource_version: int | None,
    ) -> StoredState | None:
        """Plan an added or modified record; the state it leaves (``None``: unchanged)."""
        outcome = self.put(item, state, resource_version=resource_version)
        if not isinstance(outcome, ResourceRow):
            return outcome
        return StoredState(
            outcome.uid,
            outcome.kind,
            outcome.namespace,
            outcome.name,
            outcome.content_hash,
            outcome.resource_version,
            outcome.observed_at,
            outcome.deleted_at,
        )

    def put(
        self,
        item: IncomingResource,
        state: StoredState | None,
        *,
        resource_version: int | None,
    ) -> ResourceRow | StoredState | None:
        """:meth:`upsert` without building the new state a snapshot never reads.

        Returns the row to write, a touched state, or ``None`` when nothing changed.
        """
        if self._is_stale(state, resource_version):
            # Same content at an older or equal version is a duplicate, not news.
            if state is not None and state.content_hash == item.content_hash:
                self.result.unchanged += 1
            else:
                self.result.stale += 1
            return None
        if state is not None and state.deleted_at is None:
            if state.content_hash == item.content_hash:
                self.result.unchanged += 1
                return self._touch(state, resource_version)
            change = ChangeType.MODIFIED
            self.result.modified += 1
        else:
            change = ChangeType.ADDED
            self.result.added += 1
        if resource_version is None and state is not None:
            # A snapshot carries no version, but what it saw is at least as new as
            # the stored one: keeping that version lets a late older event be
            # recognised as stale instead of winning on arrival time.
            resource_version = state.resource_version
        self._tombstones.pop(item.uid, None)
        self._touches.pop(item.uid, None)
        row = self._rows[item.uid] = item.as_row(
            self.cluster_id, self.received_at, resource_version=resource_version
        )
        self._record(
            change, item.uid, item.kind, item.namespace, item.name, item.content_hash, item.record
        )
        return row

    def _touch(self, state: StoredState, resource_version: int | None) -> StoredState | None:
        """Remember a newer version of unchanged content, so an older change can't win later."""
        if resource_version is None:
            return None  # snapshots carry no version: a re-sent snapshot writes nothing
        now = self.received_at
        pending = self._rows.get(state.uid)
        if pending is not None:
            self._rows[state.uid] = dataclasses.replace(
                pending, resource_version=resource_version, observed_at=now
            )
        else:
            self._touches[state.uid] = Touch(state.uid, resource_version, now)
        return dataclasses.replace(state, resource_version=resource_version, observed_at=now)

    def delete(self, event: ResourceEvent, state: StoredState | None) -> StoredState | None:
        if state is None or state.deleted_at is not None:
            # A delete of something unknown or already gone changes nothing.
            self.result.unchanged += 1
            return None
        rv = event.resource_version
        if self._is_stale(state, rv):
            self.result.stale += 1
            return None
        return self.tombstone_state(
            state, resource_version=rv if rv is not None else state.resource_version
        )

    def tombstone_state(
        self, state: StoredState, *, resource_version: int | None
    ) -> StoredState | None:
        if self.received_at < state.observed_at:
            # Something newer than this snapshot already arrived for it.
            self.result.stale += 1
            return None
        now = self.received_at
        self.result.deleted += 1
        pending = self._rows.get(state.uid)
        if pending is not None:
            # Upserted earlier in this batch: the final row is the deleted one.
            self._rows[state.uid] = dataclasses.replace(
                pending, deleted_at=now, resource_version=resource_version
            )
        else:
            self._touches.pop(state.uid, None)
            self._tombstones[state.uid] = Tombstone(state.uid, now, resource_version, now)
        self._record(
            ChangeType.DELETED,
            state.uid,
            state.kind,
            state.namespace,
            state.name,
            state.content_hash,
            None,
        )
        return dataclasses.replace(
            state, resource_version=resource_version, observed_at=now, deleted_at=now
        )

    def _record(
        self,
        change: ChangeType,
        uid: str,
        kind: str,
        namespace: str | None,
        name: str,
        digest: str,
        record: Mapping[str, Any] | None,
    ) -> None:
        self._versions.append(
            ResourceVersion(
                cluster_id=self.cluster_id,
                uid=uid,
                kind=kind,
                namespace=namespace,
                name=name,
                change=change,
                content_hash=digest,
                record=record,
                changed_at=self.received_at,
            )
        )
        self.result.changes.append(
            ResourceChange(
                self.cluster_id, uid, kind, namespace, name, change, digest, self.received_at
            )
        )


def group_by_kind(resources: Iterable[IncomingResource]) -> dict[str, list[IncomingResource]]:
    grouped: dict[str, list[IncomingResource]] = {}
    for resource in resources:
        grouped.setdefault(resource.kind, []).append(resource)
    return grouped
