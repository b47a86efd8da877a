"""In-memory storage backend (``memory://``): the embedded default for tests and demos.

URLs:

* ``memory://`` opens a fresh, empty, independent store every time;
* ``memory://NAME`` opens the process-wide store called ``NAME``, shared by
  every :class:`MemoryStorage` opened with the same name (so an app and a job
  runner in one process see the same data).  Nothing survives the process.

Thread safety: one lock guards the data; ingestion of a cluster is serialised
by a per-cluster lock held for the whole ``with storage.ingest(...)`` block.
An ingest transaction buffers its change sets and applies them only when the
block exits normally, so an exception inside it writes nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import heapq
import threading
import uuid
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from obsyk_core.labels import matches_all
from obsyk_core.people import AuditEntry, Invitation, SignInSession
from obsyk_core.plugins import hookimpl
from obsyk_core.registries import StorageRegistry
from obsyk_core.storage import (
    ApiToken,
    ChangeSet,
    ChangeType,
    Cluster,
    ClusterSeen,
    ConflictError,
    Credential,
    IngestTransaction,
    Membership,
    Organization,
    ReadySnapshot,
    ResourceQuery,
    ResourceRow,
    ResourceVersion,
    Role,
    StagedChunk,
    Storage,
    StoredState,
    User,
    check_scope,
    sort_key,
)
from obsyk_plugins.memory_people import MemoryPeople

SCHEME = "memory"


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class _Data:
    """Everything one store holds.  Rows are frozen dataclasses, replaced on change."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    orgs: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    memberships: dict[tuple[str, str], Membership] = field(default_factory=dict)
    tokens: dict[str, ApiToken] = field(default_factory=dict)
    clusters: dict[str, Cluster] = field(default_factory=dict)
    credentials: dict[str, Credential] = field(default_factory=dict)
    #: cluster id -> uid -> row
    resources: dict[str, dict[str, ResourceRow]] = field(default_factory=dict)
    #: (cluster id, uid) -> versions, oldest first
    history: dict[tuple[str, str], list[ResourceVersion]] = field(default_factory=dict)
    #: (cluster id, snapshot id) -> chunk number -> chunk
    staging: dict[tuple[str, str], dict[int, StagedChunk]] = field(default_factory=dict)
    ingest_locks: dict[str, threading.Lock] = field(default_factory=dict)
    #: Sign-in sessions by id hash, invitations by id, the audit log in order.
    sessions: dict[str, SignInSession] = field(default_factory=dict)
    invitations: dict[str, Invitation] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)

    def ingest_lock(self, cluster_id: str) -> threading.Lock:
        with self.lock:
            return self.ingest_locks.setdefault(cluster_id, threading.Lock())


_named_stores: dict[str, _Data] = {}
_named_stores_lock = threading.Lock()


def _data_for(url: str) -> _Data:
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        raise ValueError(f"not a memory:// URL: {url!r}")
    name = (parts.netloc + parts.path).strip("/")
    if not name:
        return _Data()
    with _named_stores_lock:
        return _named_stores.setdefault(name, _Data())


# --------------------------------------------------------------------------- change application


def _upserted(stored: ResourceRow | None, row: ResourceRow) -> ResourceRow:
    row = dataclasses.replace(
        row,
        record=copy.deepcopy(dict(row.record)),
        labels=dict(row.labels),
        annotations=dict(row.annotations),
        record_json=None,  # the record is kept as a dict: the encoding would only take memory
    )
    if stored is not None:
        # The resource was first seen when it was first stored, even across a revival.
        row = dataclasses.replace(row, first_seen_at=stored.first_seen_at)
    return row


def _apply_changes(
    rows: dict[str, ResourceRow], base: Mapping[str, ResourceRow], changes: ChangeSet
) -> None:
    """Write ``changes`` into ``rows``, reading rows not written yet from ``base``."""
    for row in changes.upserts:
        rows[row.uid] = _upserted(rows.get(row.uid) or base.get(row.uid), row)
    for tombstone in changes.tombstones:
        stored = rows.get(tombstone.uid) or base.get(tombstone.uid)
        if stored is None:
            continue
        rows[tombstone.uid] = dataclasses.replace(
            stored,
            deleted_at=tombstone.deleted_at,
            updated_at=tombstone.deleted_at,
            resource_version=tombstone.resource_version,
            observed_at=tombstone.observed_at,
        )
    for touch in changes.touches:
        stored = rows.get(touch.uid) or base.get(touch.uid)
        if stored is not None:
            rows[touch.uid] = dataclasses.replace(
                stored, resource_version=touch.resource_version, observed_at=touch.observed_at
            )


def _seen(cluster: Cluster, seen: ClusterSeen) -> Cluster:
    def latest(stored: datetime | None, new: datetime | None) -> datetime | None:
        if new is None:
            return stored
        return new if stored is None else max(stored, new)

    return dataclasses.replace(
        cluster,
        last_seen_at=latest(cluster.last_seen_at, seen.seen_at),
        last_heartbeat_at=latest(cluster.last_heartbeat_at, seen.heartbeat_at),
        last_snapshot_at=latest(cluster.last_snapshot_at, seen.snapshot_at),
        agent_version=seen.agent_version or cluster.agent_version,
        kubernetes_version=seen.kubernetes_version or cluster.kubernetes_version,
    )


def _state(row: ResourceRow) -> StoredState:
    return StoredState(
        uid=row.uid,
        kind=row.kind,
        namespace=row.namespace,
        name=row.name,
        content_hash=row.content_hash,
        resource_version=row.resource_version,
        observed_at=row.observed_at,
        deleted_at=row.deleted_at,
    )


class _MemoryIngest(IngestTransaction):
    """Buffers everything; :meth:`commit` applies it under the data lock."""

    def __init__(self, data: _Data, cluster_id: str, uids: Collection[str] | None) -> None:
        self._data = data
        self._cluster_id = cluster_id
        self._uids = None if uids is None else frozenset(uids)
        self._rows: dict[str, ResourceRow] = {}  # rows written by this transaction
        self._pending: list[ChangeSet] = []
        self._dropped: list[str] = []
        self._seen: list[ClusterSeen] = []

    def load_states(
        self, *, kinds: Collection[str] | None = None, uids: Collection[str] | None = None
    ) -> dict[str, StoredState]:
        kind_set = set(kinds) if kinds is not None else None
        with self._data.lock:
            stored = self._data.resources.get(self._cluster_id, {})
            if uids is not None:
                candidates = {uid: stored[uid] for uid in uids if uid in stored}
            else:
                candidates = dict(stored)
        candidates.update(
            (uid, row) for uid, row in self._rows.items() if uids is None or uid in uids
        )
        return {
            uid: _state(row)
            for uid, row in candidates.items()
            if kind_set is None or row.kind in kind_set
        }

    def write(self, changes: ChangeSet) -> None:
        check_scope(changes, self._uids)
        with self._data.lock:
            _apply_changes(self._rows, self._data.resources.get(self._cluster_id, {}), changes)
        self._pending.append(changes)

    def drop_staged(self, snapshot_id: str) -> None:
        self._dropped.append(snapshot_id)

    def mark_seen(self, seen: ClusterSeen) -> None:
        self._seen.append(seen)

    def commit(self) -> None:
        data = self._data
        with data.lock:
            if self._cluster_id not in data.clusters:
                # Unknown, or deleted while we were ingesting: nothing of it may come back.
                raise LookupError(f"cluster {self._cluster_id!r} does not exist")
            rows = data.resources.setdefault(self._cluster_id, {})
            for changes in self._pending:
                updates: dict[str, ResourceRow] = {}
                _apply_changes(updates, rows, changes)
                rows.update(updates)
                for version in changes.versions:
                    key = (self._cluster_id, version.uid)
                    data.history.setdefault(key, []).append(
                        dataclasses.replace(version, record=copy.deepcopy(version.record))
                    )
            for snapshot_id in self._dropped:
                data.staging.pop((self._cluster_id, snapshot_id), None)
            for seen in self._seen:
                data.clusters[self._cluster_id] = _seen(data.clusters[self._cluster_id], seen)


# --------------------------------------------------------------------------- reading helpers


def _copied(row: ResourceRow) -> ResourceRow:
    """Callers get their own copy: mutating a returned record must not change the store."""
    return dataclasses.replace(
        row,
        record=copy.deepcopy(dict(row.record)),
        labels=dict(row.labels),
        annotations=dict(row.annotations),
    )


def _row_as_of(
    cluster_id: str, versions: list[ResourceVersion], as_of: datetime
) -> ResourceRow | None:
    """The resource as it stood at ``as_of``, rebuilt from its history."""
    past = [version for version in versions if version.changed_at <= as_of]
    if not past:
        return None
    latest = past[-1]
    last_record = next((v for v in reversed(past) if v.record is not None), None)
    record: Mapping[str, Any] = last_record.record if last_record and last_record.record else {}
    deleted = latest.change is ChangeType.DELETED
    return ResourceRow(
        cluster_id=cluster_id,
        uid=latest.uid,
        kind=latest.kind,
        namespace=latest.namespace,
        name=latest.name,
        labels=dict(record.get("labels") or {}),
        annotations=dict(record.get("annotations") or {}),
        record=record,
        content_hash=last_record.content_hash if last_record else latest.content_hash,
        first_seen_at=past[0].changed_at,
        updated_at=latest.changed_at,
        deleted_at=latest.changed_at if deleted else None,
        resource_version=None,
        observed_at=latest.changed_at,
    )


def _matches(row: ResourceRow, query: ResourceQuery) -> bool:
    if row.deleted_at is not None and not query.include_deleted:
        return False
    if query.kind is not None and row.kind != query.kind:
        return False
    if query.namespace is not None and (row.namespace or "") != query.namespace:
        return False
    if query.name_prefix and not row.name.startswith(query.name_prefix):
        return False
    if query.name_contains and query.name_contains not in row.name:
        return False
    if query.after is not None and sort_key(row) <= query.after:
        return False
    return matches_all(row.labels, query.labels)


def _ready(chunks: Mapping[int, StagedChunk]) -> int | None:
    """The final chunk's number when it and every chunk before it are staged."""
    finals = [number for number, chunk in chunks.items() if chunk.final]
    if not finals:
        return None
    last = min(finals)
    return last if all(number in chunks for number in range(last + 1)) else None


# --------------------------------------------------------------------------- the backend


class MemoryStorage(MemoryPeople, Storage):
    """A complete :class:`~obsyk_core.storage.Storage` held in Python dicts."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._data = _data_for(url)

    def migrate(self) -> None:
        """Nothing to create: the dicts exist from the start."""

    # -- organizations, users, memberships, API tokens

    def create_org(self, name: str) -> Organization:
        with self._data.lock:
            if any(org.name == name for org in self._data.orgs.values()):
                raise ConflictError(f"organization name {name!r} is already taken")
            org = Organization(id=_new_id(), name=name, created_at=_now())
            self._data.orgs[org.id] = org
            return org

    def get_org(self, ref: str) -> Organization | None:
        with self._data.lock:
            org = self._data.orgs.get(ref)
            if org is not None:
                return org
            return next((o for o in self._data.orgs.values() if o.name == ref), None)

    def list_orgs(self) -> list[Organization]:
        with self._data.lock:
            return sorted(self._data.orgs.values(), key=lambda org: (org.name, org.id))

    def ensure_user(self, email: str) -> User:
        with self._data.lock:
            wanted = email.casefold()
            for user in self._data.users.values():
                if user.email.casefold() == wanted:
                    return user
            user = User(id=_new_id(), email=email, created_at=_now())
            self._data.users[user.id] = user
            return user

    def get_user(self, user_id: str) -> User | None:
        with self._data.lock:
            return self._data.users.get(user_id)

    def set_membership(self, org_id: str, user_id: str, role: Role) -> Membership:
        with self._data.lock:
            membership = Membership(org_id=org_id, user_id=user_id, role=role)
            self._data.memberships[(org_id, user_id)] = membership
            return membership

    def get_membership(self, org_id: str, user_id: str) -> Membership | None:
        with self._data.lock:
            return self._data.memberships.get((org_id, user_id))

    def create_api_token(
        self,
        org_id: str,
        user_id: str,
        token_hash: str,
        name: str,
        *,
        expires_at: datetime | None = None,
    ) -> ApiToken:
        with self._data.lock:
            if any(t.token_hash == token_hash for t in self._data.tokens.values()):
                raise ConflictError("an API token with this hash already exists")
            token = ApiToken(
                id=_new_id(),
                org_id=org_id,
                user_id=user_id,
                token_hash=token_hash,
                name=name,
                created_at=_now(),
                expires_at=expires_at,
            )
            self._data.tokens[token.id] = token
            return token

    def find_api_token(self, token_hash: str) -> ApiToken | None:
        with self._data.lock:
            return next(
                (
                    token
                    for token in self._data.tokens.values()
                    if token.token_hash == token_hash and token.revoked_at is None
                ),
                None,
            )

    def revoke_api_token(self, token_id: str, at: datetime) -> bool:
        with self._data.lock:
            token = self._data.tokens.get(token_id)
            if token is None or token.revoked_at is not None:
                return False
            self._data.tokens[token_id] = dataclasses.replace(token, revoked_at=at)
            return True

    # -- clusters and credentials

    def create_cluster(self, org_id: str, name: str) -> Cluster:
        with self._data.lock:
            if any(c.org_id == org_id and c.name == name for c in self._data.clusters.values()):
                raise ConflictError(f"the organization already has a cluster named {name!r}")
            cluster = Cluster(id=_new_id(), org_id=org_id, name=name, created_at=_now())
            self._data.clusters[cluster.id] = cluster
            return cluster

    def get_cluster(self, org_id: str, cluster_id: str) -> Cluster | None:
        with self._data.lock:
            cluster = self._data.clusters.get(cluster_id)
            return cluster if cluster is not None and cluster.org_id == org_id else None

    def list_clusters(
        self, org_id: str, *, after: str | None = None, limit: int | None = None
    ) -> list[Cluster]:
        with self._data.lock:
            clusters = sorted(
                (c for c in self._data.clusters.values() if c.org_id == org_id),
                key=lambda c: (c.name, c.id),
            )
        if after is not None:
            ids = [c.id for c in clusters]
            clusters = clusters[ids.index(after) + 1 :] if after in ids else []
        return clusters if limit is None else clusters[:limit]

    def delete_cluster(self, org_id: str, cluster_id: str) -> bool:
        data = self._data
        with data.lock:
            if self.get_cluster(org_id, cluster_id) is None:
                return False
            del data.clusters[cluster_id]
            data.resources.pop(cluster_id, None)
            for key in [key for key in data.history if key[0] == cluster_id]:
                del data.history[key]
            for key in [key for key in data.staging if key[0] == cluster_id]:
                del data.staging[key]
            for client_id in [
                c.client_id for c in data.credentials.values() if c.cluster_id == cluster_id
            ]:
                del data.credentials[client_id]
            return True

    def bind_cluster_uid(self, cluster_id: str, cluster_uid: str) -> bool:
        with self._data.lock:
            cluster = self._data.clusters.get(cluster_id)
            if cluster is None:
                return False
            if cluster.cluster_uid is None:
                self._data.clusters[cluster_id] = dataclasses.replace(
                    cluster, cluster_uid=cluster_uid
                )
                return True
            return cluster.cluster_uid == cluster_uid

    def mark_cluster_seen(self, cluster_id: str, seen: ClusterSeen) -> None:
        with self._data.lock:
            cluster = self._data.clusters.get(cluster_id)
            if cluster is not None:
                self._data.clusters[cluster_id] = _seen(cluster, seen)

    def add_credential(self, credential: Credential) -> Credential:
        with self._data.lock:
            if credential.client_id in self._data.credentials:
                raise ConflictError(f"client id {credential.client_id!r} is already registered")
            self._data.credentials[credential.client_id] = credential
            return credential

    def create_cluster_with_credential(
        self, org_id: str, name: str, *, client_id: str, public_key_pem: str, at: datetime
    ) -> tuple[Cluster, Credential]:
        # Both checks before either write, under the one lock: all or nothing.
        with self._data.lock:
            if client_id in self._data.credentials:
                raise ConflictError(f"client id {client_id!r} is already registered")
            cluster = self.create_cluster(org_id, name)
            credential = Credential(
                client_id=client_id,
                org_id=org_id,
                cluster_id=cluster.id,
                public_key_pem=public_key_pem,
                created_at=at,
            )
            self._data.credentials[client_id] = credential
            return cluster, credential

    def get_credential(self, client_id: str) -> Credential | None:
        with self._data.lock:
            return self._data.credentials.get(client_id)

    def list_credentials(self, cluster_id: str) -> list[Credential]:
        with self._data.lock:
            return sorted(
                (c for c in self._data.credentials.values() if c.cluster_id == cluster_id),
                key=lambda c: (c.created_at, c.client_id),
            )

    def revoke_credential(self, client_id: str, at: datetime) -> bool:
        with self._data.lock:
            credential = self._data.credentials.get(client_id)
            if credential is None or credential.revoked_at is not None:
                return False
            self._data.credentials[client_id] = dataclasses.replace(credential, revoked_at=at)
            return True

    # -- ingestion

    @contextmanager
    def ingest(
        self, cluster_id: str, *, uids: Collection[str] | None = None
    ) -> Iterator[IngestTransaction]:
        # One lock for the whole cluster, whatever the scope: in-process writes are quick.
        with self._data.ingest_lock(cluster_id):
            transaction = _MemoryIngest(self._data, cluster_id, uids)
            yield transaction
            transaction.commit()

    def stored_states(self, cluster_id: str, kinds: Collection[str]) -> list[StoredState]:
        # Only the data lock: commits apply under it, so the read sees whole commits,
        # and it never waits behind an ingestion still buffering its changes.
        kind_set = set(kinds)
        with self._data.lock:
            stored = self._data.resources.get(cluster_id, {})
            return [_state(row) for row in stored.values() if row.kind in kind_set]

    def stage_chunk(self, cluster_id: str, chunk: StagedChunk) -> None:
        with self._data.lock:
            self._data.staging.setdefault((cluster_id, chunk.snapshot_id), {})[chunk.chunk] = chunk

    def staged_chunks(self, cluster_id: str, snapshot_id: str) -> list[StagedChunk]:
        with self._data.lock:
            chunks = self._data.staging.get((cluster_id, snapshot_id), {})
            return [chunks[number] for number in sorted(chunks)]

    def ready_snapshots(self, cluster_id: str | None = None) -> list[ReadySnapshot]:
        ready = []
        with self._data.lock:
            for (staged_for, snapshot_id), chunks in self._data.staging.items():
                if cluster_id is not None and staged_for != cluster_id:
                    continue
                last = _ready(chunks)
                if last is None:
                    continue
                received = max(chunks[number].received_at for number in range(last + 1))
                ready.append(ReadySnapshot(staged_for, snapshot_id, last + 1, received))
        return sorted(ready, key=lambda r: (r.received_at, r.cluster_id, r.snapshot_id))

    def prune_staging(self, before: datetime) -> int:
        dropped = 0
        with self._data.lock:
            for key, chunks in list(self._data.staging.items()):
                newest = max(chunk.received_at for chunk in chunks.values())
                if _ready(chunks) is None and newest < before:
                    dropped += len(chunks)
                    del self._data.staging[key]
        return dropped

    # -- reading

    def query_resources(self, query: ResourceQuery) -> list[ResourceRow]:
        with self._data.lock:
            if query.as_of is None:
                candidates = [
                    row
                    for cluster_id in query.cluster_ids
                    for row in self._data.resources.get(cluster_id, {}).values()
                ]
            else:
                wanted = set(query.cluster_ids)
                candidates = [
                    row
                    for (cluster_id, _), versions in self._data.history.items()
                    if cluster_id in wanted
                    and (row := _row_as_of(cluster_id, versions, query.as_of)) is not None
                ]
            matching = (row for row in candidates if _matches(row, query))
            page = heapq.nsmallest(max(query.limit, 0), matching, key=sort_key)
            return [_copied(row) for row in page]

    def get_resource(self, cluster_id: str, uid: str) -> ResourceRow | None:
        with self._data.lock:
            row = self._data.resources.get(cluster_id, {}).get(uid)
            return _copied(row) if row is not None else None

    def resource_history(self, cluster_id: str, uid: str) -> list[ResourceVersion]:
        with self._data.lock:
            versions = self._data.history.get((cluster_id, uid), [])
            return [dataclasses.replace(v, record=copy.deepcopy(v.record)) for v in versions]

    def count_resources(
        self, cluster_ids: Collection[str]
    ) -> dict[tuple[str, str, str | None], int]:
        counts: dict[tuple[str, str, str | None], int] = {}
        with self._data.lock:
            for cluster_id in set(cluster_ids):
                for row in self._data.resources.get(cluster_id, {}).values():
                    if row.deleted_at is None:
                        key = (cluster_id, row.kind, row.namespace)
                        counts[key] = counts.get(key, 0) + 1
        return counts

    def iter_records(
        self, cluster_ids: Collection[str], kinds: Collection[str]
    ) -> Iterator[ResourceRow]:
        kind_set = set(kinds)
        with self._data.lock:
            rows = [
                row
                for cluster_id in set(cluster_ids)
                for row in self._data.resources.get(cluster_id, {}).values()
                if row.deleted_at is None and row.kind in kind_set
            ]
        for row in sorted(rows, key=sort_key):
            yield _copied(row)

    def prune_history(self, before: datetime) -> int:
        deleted = 0
        data = self._data
        with data.lock:
            for cluster_id, rows in data.resources.items():
                for uid, row in list(rows.items()):
                    if row.deleted_at is not None and row.deleted_at < before:
                        del rows[uid]
                        deleted += len(data.history.pop((cluster_id, uid), []))
            for key, versions in data.history.items():
                kept = [v for v in versions[:-1] if v.changed_at >= before] + versions[-1:]
                deleted += len(versions) - len(kept)
                data.history[key] = kept
        return deleted


def open_memory_storage(url: str) -> MemoryStorage:
    return MemoryStorage(url)


@hookimpl(trylast=True)
def obsyk_register_storage(registry: StorageRegistry) -> None:
    registry.register(SCHEME, open_memory_storage)
