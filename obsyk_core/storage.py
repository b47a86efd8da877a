"""The storage interface: what a backend must do so the platform can run on it.

Backends are plugins (``obsyk_register_storage``) chosen by URL scheme.  The
built-ins are SQLAlchemy (PostgreSQL, SQLite) and in-memory; a third-party
backend proves itself by running :mod:`obsyk_core.testing`'s conformance suite.

The interface is deliberately *dumb*: the ingestion rules (what changed, what is
older, what to tombstone, which history versions to append) live in
:mod:`obsyk_core.ingest` and reach the backend as a :class:`ChangeSet` written
inside an :meth:`Storage.ingest` transaction that serialises ingestion per
cluster.  All datetimes are timezone-aware UTC; all ids are strings.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import enum
from collections.abc import Collection, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from obsyk_core.attention import FIELDS as ATTENTION_FIELDS
from obsyk_core.attention import KINDS as ATTENTION_KINDS
from obsyk_core.attention import AttentionItem, AttentionRules, attention_reason
from obsyk_core.images import POD_IMAGE_FIELDS, ImageUse, images_in_use
from obsyk_core.labels import LabelRequirement
from obsyk_core.people import PeopleStore

Role = Literal["owner", "admin", "member", "viewer"]
ROLES: tuple[Role, ...] = ("viewer", "member", "admin", "owner")  # weakest first


class ChangeType(enum.StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"


class StorageError(RuntimeError):
    """A backend failure a client may retry (connection lost, lock timeout...)."""


class ConflictError(ValueError):
    """A uniqueness rule was broken (an org or cluster name already taken...)."""


class InvalidValueError(ValueError):
    """The backend refused a value the caller sent (out of its range, a NUL in text...).

    Bad input, not an outage: the app answers 422, never a 5xx that a client
    would retry forever with the same value.
    """


# --------------------------------------------------------------------------- tenancy


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    created_at: datetime
    #: The WorkOS organization whose members may join this org at sign-in.
    workos_org_id: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    created_at: datetime
    name: str | None = None
    #: Set at the first WorkOS sign-in (a member added by email is linked then).
    workos_user_id: str | None = None


@dataclass(frozen=True, slots=True)
class Membership:
    org_id: str
    user_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A personal API token; only the SHA-256 of the secret is ever stored."""

    id: str
    org_id: str
    user_id: str
    token_hash: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None
    #: After this the token is refused (``None``: it lives until revoked).
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Cluster:
    id: str
    org_id: str
    name: str
    created_at: datetime
    #: The kube-system Namespace UID; bound by the first agent request.
    cluster_uid: str | None = None
    last_heartbeat_at: datetime | None = None
    last_snapshot_at: datetime | None = None
    #: Latest moment any agent request (heartbeat, snapshot, event) arrived.
    last_seen_at: datetime | None = None
    agent_version: str | None = None
    kubernetes_version: str | None = None


@dataclass(frozen=True, slots=True)
class Credential:
    """An operator credential: the platform keeps only the public key (PEM)."""

    client_id: str
    org_id: str
    cluster_id: str
    public_key_pem: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClusterSeen:
    """What an agent request tells about its cluster; ``None`` fields are left as stored."""

    seen_at: datetime
    heartbeat_at: datetime | None = None
    snapshot_at: datetime | None = None
    agent_version: str | None = None
    kubernetes_version: str | None = None


# --------------------------------------------------------------------------- inventory


@dataclass(frozen=True, slots=True)
class StoredState:
    """The part of a stored resource the ingestion rules compare against."""

    uid: str
    kind: str
    namespace: str | None
    name: str
    content_hash: str
    #: ``metadata.resourceVersion`` of the last applied change, when it was numeric.
    resource_version: int | None
    #: Arrival time of the last applied change (the "arrival order" tie-breaker).
    observed_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class ResourceRow:
    """A resource as stored and as the API returns it."""

    cluster_id: str
    uid: str
    kind: str
    namespace: str | None
    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    #: The record as the operator sent it, trimmed to its kind's schema (obsyk_core.record_trim).
    record: Mapping[str, Any]
    content_hash: str
    first_seen_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    resource_version: int | None
    observed_at: datetime
    #: The record's JSON encoding, when the caller already has it (ingestion
    #: hashed it): a backend storing JSON may send these bytes instead of
    #: encoding ``record`` again.  Never compared; ``None`` in rows read back.
    record_json: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Tombstone:
    uid: str
    deleted_at: datetime
    resource_version: int | None
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class Touch:
    """A live row seen again, unchanged, at a newer resource version.

    Only the ordering columns move (no history, ``updated_at`` kept): without
    it, A@5 then A@7 then a late B@6 would let B overwrite the newer A.
    """

    uid: str
    resource_version: int
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class ResourceVersion:
    """One entry of a resource's history: the state after a real change."""

    cluster_id: str
    uid: str
    kind: str
    namespace: str | None
    name: str
    change: ChangeType
    content_hash: str
    #: ``None`` for a deletion.
    record: Mapping[str, Any] | None
    changed_at: datetime


@dataclass(slots=True)
class ChangeSet:
    """Everything one ingestion writes, applied atomically by :meth:`IngestTransaction.write`.

    ``upserts`` insert or fully replace rows (a stored ``first_seen_at`` is kept);
    ``tombstones`` mark live rows deleted; ``touches`` set only
    ``resource_version`` and ``observed_at`` of live rows; ``versions`` are
    appended to history.  A uid appears in at most one of upserts, tombstones
    and touches.
    """

    upserts: list[ResourceRow] = field(default_factory=list)
    tombstones: list[Tombstone] = field(default_factory=list)
    versions: list[ResourceVersion] = field(default_factory=list)
    touches: list[Touch] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.upserts or self.tombstones or self.versions or self.touches)

    def uids(self) -> set[str]:
        """Every object the change set writes (rows or history)."""
        return (
            {row.uid for row in self.upserts}
            | {tombstone.uid for tombstone in self.tombstones}
            | {touch.uid for touch in self.touches}
            | {version.uid for version in self.versions}
        )


def check_scope(changes: ChangeSet, uids: Collection[str] | None) -> None:
    """Refuse ``changes`` writing an object outside an ingestion's ``uids``.

    See :meth:`Storage.ingest`; ``uids=None`` is the whole cluster: anything goes.
    """
    if uids is not None:
        outside = changes.uids().difference(uids)
        if outside:
            raise ValueError(f"uids {sorted(outside)} are outside this ingestion's scope")


#: Keyset-pagination position: (kind, namespace or "", name, cluster_id, uid).
SortKey = tuple[str, str, str, str, str]


def sort_key(row: ResourceRow) -> SortKey:
    """The order in which queries return resources."""
    return (row.kind, row.namespace or "", row.name, row.cluster_id, row.uid)


@dataclass(frozen=True, slots=True)
class ResourceQuery:
    """A filtered, keyset-paginated listing of resources.

    Results are ordered by :func:`sort_key` and start strictly after ``after``.
    With ``as_of`` the rows are the state each resource had at that time
    (rebuilt from history); deleted ones only with ``include_deleted``.
    """

    cluster_ids: tuple[str, ...]
    kind: str | None = None
    namespace: str | None = None
    name_prefix: str | None = None
    name_contains: str | None = None
    labels: tuple[LabelRequirement, ...] = ()
    include_deleted: bool = False
    as_of: datetime | None = None
    after: SortKey | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class StagedChunk:
    snapshot_id: str
    chunk: int
    final: bool
    payload: bytes
    received_at: datetime


@dataclass(frozen=True, slots=True)
class ReadySnapshot:
    """A chunked snapshot whose final chunk (and every chunk before it) is staged."""

    cluster_id: str
    snapshot_id: str
    chunk_count: int
    received_at: datetime


# --------------------------------------------------------------------------- interface


class IngestTransaction(abc.ABC):
    """Ingestion for one cluster, serialised as :meth:`Storage.ingest` says.

    Entered through :meth:`Storage.ingest`; committed when the ``with`` block
    exits normally, rolled back when it raises.
    """

    @abc.abstractmethod
    def load_states(
        self, *, kinds: Collection[str] | None = None, uids: Collection[str] | None = None
    ) -> dict[str, StoredState]:
        """States of the cluster's resources (deleted ones included) by uid.

        ``kinds`` and ``uids`` narrow the result; both ``None`` means all.
        """

    @abc.abstractmethod
    def write(self, changes: ChangeSet) -> None:
        """Apply a change set (may be called more than once per transaction)."""

    @abc.abstractmethod
    def drop_staged(self, snapshot_id: str) -> None:
        """Forget a staged snapshot's chunks, committed with the rest of the transaction."""

    @abc.abstractmethod
    def mark_seen(self, seen: ClusterSeen) -> None:
        """Record what this request tells about the cluster, in the same transaction."""


class Storage(PeopleStore):
    """A storage backend.  Every method is its own transaction unless said otherwise.

    The accounts part (sessions, invitations, audit...) is :class:`PeopleStore`.
    """

    # -- lifecycle
    @abc.abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema; safe to call on an up-to-date store."""

    def close(self) -> None:
        """Release connections."""

    # -- organizations, users, memberships, API tokens
    @abc.abstractmethod
    def create_org(self, name: str) -> Organization:
        """Raise :class:`ConflictError` when the name is taken."""

    @abc.abstractmethod
    def get_org(self, ref: str) -> Organization | None:
        """Find an org by id, or else by exact name."""

    @abc.abstractmethod
    def list_orgs(self) -> list[Organization]: ...

    @abc.abstractmethod
    def ensure_user(self, email: str) -> User:
        """The user with this email (case-insensitive), created if absent."""

    @abc.abstractmethod
    def get_user(self, user_id: str) -> User | None: ...

    @abc.abstractmethod
    def set_membership(self, org_id: str, user_id: str, role: Role) -> Membership: ...

    @abc.abstractmethod
    def get_membership(self, org_id: str, user_id: str) -> Membership | None: ...

    @abc.abstractmethod
    def create_api_token(
        self,
        org_id: str,
        user_id: str,
        token_hash: str,
        name: str,
        *,
        expires_at: datetime | None = None,
    ) -> ApiToken: ...

    @abc.abstractmethod
    def find_api_token(self, token_hash: str) -> ApiToken | None:
        """An unrevoked token with this hash."""

    @abc.abstractmethod
    def revoke_api_token(self, token_id: str, at: datetime) -> bool: ...

    def authenticate_api_token(self, token_hash: str) -> tuple[ApiToken, Membership] | None:
        """The unrevoked token with this hash and its holder's membership in the token's org.

        ``None`` when there is no such token, it was revoked, or its holder is no
        longer a member of the token's org.  The membership (hence the role) is
        the current one: a revocation or role change is seen by the next call,
        so a backend must not cache the answer.  Backends that can should answer
        in one round trip (the SQL backend joins the two tables); this default
        composes :meth:`find_api_token` and :meth:`get_membership`.
        """
        token = self.find_api_token(token_hash)
        if token is None:
            return None
        membership = self.get_membership(token.org_id, token.user_id)
        return None if membership is None else (token, membership)

    # -- clusters and credentials
    @abc.abstractmethod
    def create_cluster(self, org_id: str, name: str) -> Cluster:
        """Raise :class:`ConflictError` when the org already has a cluster of that name."""

    @abc.abstractmethod
    def get_cluster(self, org_id: str, cluster_id: str) -> Cluster | None:
        """``None`` also when the cluster belongs to another org."""

    @abc.abstractmethod
    def list_clusters(
        self, org_id: str, *, after: str | None = None, limit: int | None = None
    ) -> list[Cluster]:
        """The org's clusters ordered by (name, id); ``after`` is the last id seen."""

    @abc.abstractmethod
    def delete_cluster(self, org_id: str, cluster_id: str) -> bool:
        """Remove a cluster with its credentials, resources, history and staging."""

    @abc.abstractmethod
    def bind_cluster_uid(self, cluster_id: str, cluster_uid: str) -> bool:
        """Bind the cluster to its kube-system uid on first contact.

        Returns True when the cluster is (now) bound to ``cluster_uid``, False
        when it was already bound to a different one.
        """

    @abc.abstractmethod
    def mark_cluster_seen(self, cluster_id: str, seen: ClusterSeen) -> None:
        """Record what an agent request tells about the cluster (times only move forward).

        Should not wait for an open :meth:`ingest` of the cluster where the
        database allows it: a heartbeat must not queue behind a long snapshot.
        """

    @abc.abstractmethod
    def add_credential(self, credential: Credential) -> Credential: ...

    def create_cluster_with_credential(
        self, org_id: str, name: str, *, client_id: str, public_key_pem: str, at: datetime
    ) -> tuple[Cluster, Credential]:
        """Create a cluster together with its first credential: both or neither.

        Raise :class:`ConflictError`, storing nothing, when the org already has a
        cluster of that name or ``client_id`` is already registered.  Without the
        all-or-nothing rule a failed credential would leave a cluster no operator
        can use whose name stays taken.

        This default composes :meth:`create_cluster` and :meth:`add_credential`
        and, when the credential fails, deletes the cluster again (best effort: a
        failing delete does not hide the original error).  Backends that have
        transactions should override it to do both in one.
        """
        cluster = self.create_cluster(org_id, name)
        try:
            credential = self.add_credential(
                Credential(
                    client_id=client_id,
                    org_id=org_id,
                    cluster_id=cluster.id,
                    public_key_pem=public_key_pem,
                    created_at=at,
                )
            )
        except BaseException:
            with contextlib.suppress(Exception):
                self.delete_cluster(org_id, cluster.id)
            raise
        return cluster, credential

    @abc.abstractmethod
    def get_credential(self, client_id: str) -> Credential | None:
        """A credential by client id, revoked ones included."""

    @abc.abstractmethod
    def list_credentials(self, cluster_id: str) -> list[Credential]: ...

    @abc.abstractmethod
    def revoke_credential(self, client_id: str, at: datetime) -> bool: ...

    # -- ingestion
    @abc.abstractmethod
    def ingest(
        self, cluster_id: str, *, uids: Collection[str] | None = None
    ) -> AbstractContextManager[IngestTransaction]:
        """An ingestion transaction of one cluster.

        ``uids=None`` (a snapshot reconcile): the whole cluster, serialised
        against every other ingestion of it.  ``uids`` given (events): only
        those objects may be written (anything else is a ``ValueError``), and
        such transactions of one cluster may run side by side, each object's
        changes still applied one at a time, each reading the state the one
        before committed.  A backend may serialise them all (memory, SQLite).
        """

    def stored_states(self, cluster_id: str, kinds: Collection[str]) -> list[StoredState]:
        """The cluster's states (live and deleted) of ``kinds``, as of one consistent read.

        Unlike :meth:`IngestTransaction.load_states` this never waits on
        ingestion: a heartbeat comparing fingerprints must not queue behind a
        long snapshot reconcile.  It sees the last committed state, never a
        transaction half-applied.

        This default reads through :meth:`ingest` (so it does wait); backends
        should override it with a read that takes no ingestion lock.
        """
        with self.ingest(cluster_id) as tx:
            return list(tx.load_states(kinds=kinds).values())

    @abc.abstractmethod
    def stage_chunk(self, cluster_id: str, chunk: StagedChunk) -> None:
        """Durably store a snapshot chunk; re-staging the same (snapshot_id, chunk) replaces it."""

    @abc.abstractmethod
    def staged_chunks(self, cluster_id: str, snapshot_id: str) -> list[StagedChunk]:
        """A snapshot's staged chunks ordered by chunk number."""

    @abc.abstractmethod
    def ready_snapshots(self, cluster_id: str | None = None) -> list[ReadySnapshot]:
        """Staged snapshots that have a final chunk and no gap before it, oldest first.

        Across clusters, or of ``cluster_id`` only (a heartbeat or a job asking
        about its own cluster need not read every cluster's staging).
        """

    @abc.abstractmethod
    def prune_staging(self, before: datetime) -> int:
        """Drop chunks of snapshots that never completed, received before ``before``."""

    # -- reading
    @abc.abstractmethod
    def query_resources(self, query: ResourceQuery) -> list[ResourceRow]: ...

    @abc.abstractmethod
    def get_resource(self, cluster_id: str, uid: str) -> ResourceRow | None: ...

    @abc.abstractmethod
    def resource_history(self, cluster_id: str, uid: str) -> list[ResourceVersion]:
        """Every version of a resource, oldest first."""

    @abc.abstractmethod
    def count_resources(
        self, cluster_ids: Collection[str]
    ) -> dict[tuple[str, str, str | None], int]:
        """Live resources counted by (cluster_id, kind, namespace)."""

    @abc.abstractmethod
    def iter_records(
        self, cluster_ids: Collection[str], kinds: Collection[str]
    ) -> Iterator[ResourceRow]:
        """Every live resource of the given kinds (for summaries, e.g. images in use)."""

    def iter_record_fields(
        self, cluster_ids: Collection[str], kinds: Collection[str], fields: Collection[str]
    ) -> Iterator[ResourceRow]:
        """Like :meth:`iter_records`, each record cut down to the top-level ``fields`` it has.

        A summary over a fleet's Pods needs two fields of records of a few kB
        each.  Backends that can select parts of the stored document should
        (the SQL backend does it on PostgreSQL); this default cuts down whole records.
        """
        wanted = frozenset(fields)
        for row in self.iter_records(cluster_ids, kinds):
            record = {key: value for key, value in row.record.items() if key in wanted}
            yield dataclasses.replace(row, record=record)

    def image_usage(
        self,
        cluster_ids: Collection[str],
        *,
        images_limit: int,
        where_limit: int,
        image_contains: str | None = None,
    ) -> tuple[list[ImageUse], bool]:
        """The images live Pods run (:mod:`obsyk_core.images`): most used first, bounded.

        Returns the images and whether more were left out.  Backends that can
        should aggregate in their database (the SQL backend does on
        PostgreSQL); this default reads each Pod's two image fields.
        """
        if not cluster_ids:
            return [], False
        pods = self.iter_record_fields(cluster_ids, ["Pod"], POD_IMAGE_FIELDS)
        return images_in_use(
            pods,
            images_limit=images_limit,
            where_limit=where_limit,
            image_contains=image_contains,
        )

    def attention(
        self, cluster_ids: Collection[str], rules: AttentionRules, *, limit: int
    ) -> list[AttentionItem]:
        """Live resources needing attention by :mod:`obsyk_core.attention`'s rules.

        At most ``limit``, in :func:`sort_key` order.  Backends that can should
        evaluate the rules in their database (the SQL backend does on
        PostgreSQL); this default reads the few fields the rules need.
        """
        items: list[AttentionItem] = []
        if not cluster_ids:
            return items
        for row in self.iter_record_fields(cluster_ids, ATTENTION_KINDS, ATTENTION_FIELDS):
            found = attention_reason(row.kind, row.record, rules)
            if found is None:
                continue
            reason, detail = found
            items.append(
                AttentionItem(
                    row.cluster_id, row.uid, row.kind, row.namespace, row.name, reason, detail
                )
            )
            if len(items) >= limit:
                break
        return items

    @abc.abstractmethod
    def prune_history(self, before: datetime) -> int:
        """Delete versions older than ``before``, keeping each resource's newest one.

        Also drops tombstoned resources whose deletion is older than ``before``.
        Returns the number of versions deleted.
        """
