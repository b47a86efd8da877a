"""PostgreSQL ingestion: two write paths on the transaction's own psycopg connection.

* **Small** change sets (fewer than :data:`SMALL_WRITE_ROWS` rows; a single
  upstream event is the usual case): plain multi-row ``INSERT ... ON CONFLICT``
  statements.  The upsert's ``RETURNING`` appends the history versions equal to
  the rows it writes; other versions (deletions, a batch's earlier states of a
  uid) are plain ``VALUES``.
* **Large** change sets (a snapshot): the rows are ``COPY``-ed into a temporary
  table, then ONE ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` merges them
  into ``resources`` (keeping ``first_seen_at``) and, from its ``RETURNING``,
  appends the versions equal to the rows written; other versions are
  ``COPY``-ed into ``resource_versions`` first, so per-uid order (``id``) is the
  order the changes happened.

Either way tombstones and touches are one ``UPDATE ... FROM unnest(...)``.  Rows
are encoded for ``COPY`` by :mod:`~obsyk_plugins.sql_storage.copy_text`.

Statements that need no answer before the next one are queued and sent
together in psycopg's pipeline mode, one ``with connection.pipeline()`` block
per round trip: an event's transaction is three round trips (the locks and
``load_states``; the writes and ``mark_seen``; ``COMMIT``).

Locks: see :data:`_LOCK_CLUSTER`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import TracebackType
from typing import Any, Self

import orjson
import psycopg
from sqlalchemy import JSON, ColumnElement, Connection

from obsyk_core.storage import (
    ChangeSet,
    ClusterSeen,
    ResourceRow,
    ResourceVersion,
    StoredState,
    check_scope,
)
from obsyk_plugins.sql_storage import copy_text, rows
from obsyk_plugins.sql_storage.errors import storage_errors
from obsyk_plugins.sql_storage.ingest_tx import (
    STATE_COLUMNS,
    UPSERT_REPLACES,
    SqlIngestTransaction,
    state_updates,
)
from obsyk_plugins.sql_storage.models import (
    RESOURCE_COLUMNS,
    VERSION_COLUMNS,
    ResourceModel,
    ResourceVersionModel,
)

_RESOURCES = ", ".join(RESOURCE_COLUMNS)
_VERSIONS = ", ".join(VERSION_COLUMNS)
_INCOMING = "obsyk_incoming_resources"
#: Change sets touching fewer resources than this (and appending fewer history
#: versions) are written as plain statements; larger ones through ``COPY``.
SMALL_WRITE_ROWS = 64

#: Ingestion takes a transaction-level advisory lock of the cluster, keyed in a
#: namespace of our own by the cluster id's hash (two clusters sharing a hash
#: merely take turns; the two-key form never meets one-key locks such as the
#: migrations').  A snapshot reconcile takes it EXCLUSIVE: it reads and sweeps
#: the whole cluster.  Events take it SHARED (but see :data:`OBJECT_LOCKS_UP_TO`),
#: so events of one cluster run side by side, and each also takes an exclusive
#: lock per object it names (keyed by cluster and uid, taken in key order so
#: two events never deadlock): two
#: changes of one object still apply one at a time, each reading the state the
#: other committed, and the stored ``resource_version`` / arrival time decide
#: which one stands.  An object lock, not a row lock: a new object has no row
#: to lock yet.
#:
#: It is not the cluster row's lock: that would queue every write of the row
#: (an agent's heartbeat noting when the cluster was seen) behind an ingestion
#: that may run for a 100,000-resource snapshot.  The row itself is locked
#: only ``FOR KEY SHARE``: the cluster exists, and cannot be deleted (a
#: ``DELETE`` needs the row exclusively, so a deletion is exclusive too) until
#: this transaction ends, while updates of its other columns go ahead.  The
#: advisory lock is taken in the scan's output, below the row lock
#: (``LockRows``), so a deletion committed while this waited makes the row
#: vanish: no row, ``LookupError``.  The states are read by a later statement,
#: whose snapshot is taken after every lock.
#: An event batch naming this many objects or more takes the cluster exclusively,
#: as a snapshot does, instead of one lock per object: the server's lock table
#: is shared and bounded (``max_locks_per_transaction``, 64 by default, times
#: the connections), and a batch that big is a bulk write anyway.
OBJECT_LOCKS_UP_TO = SMALL_WRITE_ROWS
_CLUSTER_LOCKS = 0x0B5C1
_OBJECT_LOCKS = 0x0B5C2
_LOCK_CLUSTER = "SELECT {function}(%s, hashtext(id)) FROM clusters WHERE id = %s FOR KEY SHARE"
_LOCK_OBJECTS = (
    "SELECT pg_advisory_xact_lock(%s, key) FROM"
    " (SELECT DISTINCT hashtext(%s || '/' || uid) AS key"
    " FROM unnest(%b::text[]) AS uid ORDER BY key) AS keys"
)
#: Text arrays (``%b::text[]``) are sent in the binary format: psycopg then
#: packs each string as it is, where the text format quotes and escapes every
#: item in Python (~0.4 ms for a 500-uid array, ~0.05 ms in binary).
_LOAD_STATES = (
    f"SELECT {', '.join(column.name for column in STATE_COLUMNS)}"
    " FROM resources WHERE cluster_id = %s"
)
#: Created once per database session (``IF NOT EXISTS``) and emptied by every
#: commit: creating and dropping it per transaction would write the system
#: catalogs each time.  Its rows stay inline as large as a page allows (see
#: migration 0002) and any compressed value is compressed as ``resources``
#: compresses it (PostgreSQL 14+), so the merge copies values as they are.
_CREATE_INCOMING = f"""DO $$ BEGIN
IF to_regclass('pg_temp.{_INCOMING}') IS NULL THEN
  EXECUTE format('CREATE TEMPORARY TABLE {_INCOMING}'
    ' (LIKE resources INCLUDING DEFAULTS INCLUDING COMPRESSION)'
    ' WITH (toast_tuple_target = %s) ON COMMIT DELETE ROWS',
    current_setting('block_size')::int - 32);
END IF;
END $$"""
_ON_CONFLICT = " ON CONFLICT (cluster_id, uid) DO UPDATE SET " + ", ".join(
    f"{name} = EXCLUDED.{name}" for name in UPSERT_REPLACES
)
#: Appends, from the rows an upsert wrote (``written``), one history version per
#: (uid, change, time) listed in ``v``: the server hands the written records
#: straight on, each record is sent and parsed once.
_VERSIONS_FROM_WRITTEN = (
    " RETURNING cluster_id, uid, kind, namespace, name, content_hash, record)"
    f" INSERT INTO resource_versions ({_VERSIONS})"
    " SELECT w.cluster_id, w.uid, w.kind, w.namespace, w.name, v.change, w.content_hash,"
    " w.record, v.changed_at FROM written AS w JOIN {versions} AS v(uid, change, changed_at)"
    " ON w.uid = v.uid"
)
_MERGE_INCOMING = (
    f"INSERT INTO resources ({_RESOURCES}) SELECT {_RESOURCES} FROM {_INCOMING}{_ON_CONFLICT}"
)
_MERGE_INCOMING_WITH_VERSIONS = (
    f"WITH written AS ({_MERGE_INCOMING}"
    + _VERSIONS_FROM_WRITTEN.format(versions="unnest(%b::text[], %b::text[], %s::timestamptz[])")
)
#: Tombstones and touches: a touch has no ``deleted_at`` and keeps the row's.
_UPDATE_STATES = (
    "UPDATE resources AS r SET deleted_at = COALESCE(t.deleted_at, r.deleted_at),"
    " updated_at = COALESCE(t.deleted_at, r.updated_at),"
    " resource_version = t.resource_version, observed_at = t.observed_at"
    " FROM unnest(%b::text[], %s::timestamptz[], %s::bigint[], %s::timestamptz[])"
    " AS t(uid, deleted_at, resource_version, observed_at)"
    " WHERE r.cluster_id = %s AND r.uid = t.uid"
)


def _placeholders(columns: Iterable[ColumnElement[Any]]) -> str:
    """One row's placeholders in table order; JSON documents are sent as text."""
    cells = ("%s::jsonb" if isinstance(column.type, JSON) else "%s" for column in columns)
    return f"({', '.join(cells)})"


_RESOURCE_VALUES = _placeholders(ResourceModel.__table__.c)
_VERSION_VALUES = _placeholders(c for c in ResourceVersionModel.__table__.c if c.name != "id")


@lru_cache(maxsize=SMALL_WRITE_ROWS)
def _upsert_values_sql(count: int) -> str:
    """``INSERT ... VALUES`` of ``count`` resources, keeping a stored ``first_seen_at``."""
    values = ", ".join([_RESOURCE_VALUES] * count)
    return f"INSERT INTO resources ({_RESOURCES}) VALUES {values}{_ON_CONFLICT}"


@lru_cache(maxsize=4 * SMALL_WRITE_ROWS)
def _upsert_with_versions_sql(rows: int, versions: int) -> str:
    """:func:`_upsert_values_sql` whose ``RETURNING`` appends ``versions`` history versions.

    Each version is (uid, change, time) after the rows' values; its other
    columns and record are those of the row written for its uid.
    """
    values = ", ".join(["(%s::text, %s::text, %s::timestamptz)"] * versions)
    return f"WITH written AS ({_upsert_values_sql(rows)}" + _VERSIONS_FROM_WRITTEN.format(
        versions=f"(VALUES {values})"
    )


@lru_cache(maxsize=SMALL_WRITE_ROWS)
def _versions_values_sql(count: int) -> str:
    values = ", ".join([_VERSION_VALUES] * count)
    return f"INSERT INTO resource_versions ({_VERSIONS}) VALUES {values}"


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        # The same refusal as the COPY and SQLAlchemy paths.
        raise ValueError(f"naive datetime {value!r}: storage takes timezone-aware UTC")
    return value


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _resource_params(upserts: Sequence[ResourceRow]) -> list[Any]:
    """The rows' values in table order (:data:`RESOURCE_COLUMNS`)."""
    params: list[Any] = []
    for row in upserts:
        params += (
            *rows.identity(row),
            _json(row.labels),
            _json(row.annotations),
            _json(row.record) if row.record_json is None else row.record_json.decode(),
            row.content_hash,
            _aware(row.first_seen_at),
            _aware(row.updated_at),
            _aware(row.deleted_at),
            row.resource_version,
            _aware(row.observed_at),
        )
    return params


def _version_params(versions: Sequence[ResourceVersion]) -> list[Any]:
    params: list[Any] = []
    for version in versions:
        params += (
            *rows.identity(version),
            version.change.value,
            version.content_hash,
            None if version.record is None else _json(version.record),
            _aware(version.changed_at),
        )
    return params


def _mark_seen_sql(seen: ClusterSeen, *, skip_locked: bool) -> tuple[str, list[Any]]:
    """``mark_cluster_seen`` as one plain statement (``GREATEST`` skips NULLs: never back).

    ``skip_locked``: leave the note to a concurrent transaction already making
    one (an event beside other events of the cluster), instead of queueing
    behind it until it commits: the row's lock would otherwise make the
    cluster's events commit one at a time.  Its time differs from ours by the
    length of a transaction.
    """
    sets = ["last_seen_at = GREATEST(last_seen_at, %s)"]
    params: list[Any] = [_aware(seen.seen_at)]
    if seen.heartbeat_at is not None:
        sets.append("last_heartbeat_at = GREATEST(last_heartbeat_at, %s)")
        params.append(_aware(seen.heartbeat_at))
    if seen.snapshot_at is not None:
        sets.append("last_snapshot_at = GREATEST(last_snapshot_at, %s)")
        params.append(_aware(seen.snapshot_at))
    if seen.agent_version:
        sets.append("agent_version = %s")
        params.append(seen.agent_version)
    if seen.kubernetes_version:
        sets.append("kubernetes_version = %s")
        params.append(seen.kubernetes_version)
    which = (
        "(SELECT id FROM clusters WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED)"
        if skip_locked
        else "%s"
    )
    return f"UPDATE clusters SET {', '.join(sets)} WHERE id = {which}", params


def _resource_lines(upserts: Iterable[ResourceRow]) -> Iterator[bytes]:
    """The rows in table order (:data:`RESOURCE_COLUMNS`), as COPY text lines."""
    texts, document, stamp = copy_text.texts, copy_text.json_document, copy_text.Timestamps()
    text, integer = copy_text.text, copy_text.integer

    def record(row: ResourceRow) -> bytes:
        if row.record_json is None:
            return document(row.record)
        return copy_text.json_encoded(row.record_json)

    for row in upserts:
        yield b"\t".join(
            (
                texts(*rows.identity(row)),
                document(row.labels),
                document(row.annotations),
                record(row),
                text(row.content_hash),
                stamp(row.first_seen_at),
                stamp(row.updated_at),
                stamp(row.deleted_at),
                integer(row.resource_version),
                stamp(row.observed_at) + b"\n",
            )
        )


def _version_lines(versions: Iterable[ResourceVersion]) -> Iterator[bytes]:
    """The versions in table order (:data:`VERSION_COLUMNS`), as COPY text lines."""
    texts, stamp = copy_text.texts, copy_text.Timestamps()
    for version in versions:
        yield b"\t".join(
            (
                texts(*rows.identity(version), version.change.value, version.content_hash),
                copy_text.optional_json_document(version.record),
                stamp(version.changed_at) + b"\n",
            )
        )


@dataclass(frozen=True, slots=True)
class _Queued:
    """A statement waiting for the next round trip, and what to check in its answer."""

    sql: str
    params: Sequence[Any]
    check: Callable[[psycopg.Cursor[Any]], None] | None = None


class PostgresIngestTransaction(SqlIngestTransaction):
    """The portable transaction with its writes done on the raw psycopg connection.

    Used as a context manager inside the SQLAlchemy transaction: it takes the
    cluster's ingestion lock itself, in the same round trip as its first
    statement (``LookupError`` if the cluster does not exist), and on a clean
    exit sends whatever is still queued and checks the answers, so the caller
    commits only what was verified.
    """

    def __init__(
        self, connection: Connection, cluster_id: str, uids: Collection[str] | None = None
    ) -> None:
        super().__init__(connection, cluster_id, uids)
        self._locked = False
        #: The temporary table holds this transaction's earlier rows.
        self._incoming_used = False
        self._queued: list[_Queued] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._queue_locks()  # nothing ran: the cluster must still exist
            self._send()
        else:
            self._queued.clear()

    @property
    def _raw(self) -> psycopg.Connection[Any]:
        driver_connection = self.connection.connection.driver_connection
        assert isinstance(driver_connection, psycopg.Connection)
        return driver_connection

    def _queue(
        self,
        sql: str,
        params: Sequence[Any],
        check: Callable[[psycopg.Cursor[Any]], None] | None = None,
    ) -> None:
        self._queued.append(_Queued(sql, params, check))

    def _send(self) -> None:
        """One round trip: every queued statement in one pipeline, then the checks."""
        queued, self._queued = self._queued, []
        if not queued:
            return
        with storage_errors(), ExitStack() as stack:
            cursors = [stack.enter_context(self._raw.cursor()) for _ in queued]
            with self._raw.pipeline():  # one Sync at the end: every answer is in its cursor
                for statement, cursor in zip(queued, cursors, strict=True):
                    cursor.execute(statement.sql, statement.params)
            for statement, cursor in zip(queued, cursors, strict=True):
                if statement.check is not None:
                    statement.check(cursor)

    @property
    def _shared(self) -> bool:
        """Whether this takes the cluster's lock shared (a few objects' events)."""
        return self.uids is not None and len(self.uids) < OBJECT_LOCKS_UP_TO

    def _queue_locks(self) -> None:
        """The cluster's lock (and the objects' for events) and its row: first of all."""
        if self._locked:
            return
        self._locked = True
        shared = self._shared
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"

        def cluster_exists(cursor: psycopg.Cursor[Any]) -> None:
            if cursor.fetchone() is None:
                raise LookupError(f"cluster {self.cluster_id!r} does not exist")

        self._queue(
            _LOCK_CLUSTER.format(function=function),
            [_CLUSTER_LOCKS, self.cluster_id],
            cluster_exists,
        )
        if shared and self.uids:
            self._queue(_LOCK_OBJECTS, [_OBJECT_LOCKS, self.cluster_id, list(self.uids)])

    def load_states(
        self, *, kinds: Collection[str] | None = None, uids: Collection[str] | None = None
    ) -> dict[str, StoredState]:
        sql = _LOAD_STATES
        params: list[Any] = [self.cluster_id]
        if kinds is not None:
            sql += " AND kind = ANY(%b::text[])"
            params.append(list(kinds))
        if uids is not None:
            sql += " AND uid = ANY(%b::text[])"
            params.append(list(uids))
        states: dict[str, StoredState] = {}

        def read_states(cursor: psycopg.Cursor[Any]) -> None:
            states.update((row[0], rows.stored_state(row)) for row in cursor)

        self._queue_locks()
        self._queue(sql, params, read_states)
        self._send()
        return states

    def write(self, changes: ChangeSet) -> None:
        check_scope(changes, self.uids)
        self._queue_locks()
        resources = len(changes.upserts) + len(changes.tombstones) + len(changes.touches)
        with storage_errors():
            if max(resources, len(changes.versions)) < SMALL_WRITE_ROWS:
                self._queue_small_write(changes)
            else:
                self._send()  # COPY does not run in a pipeline
                self._write_large(changes)

    def _queue_small_write(self, changes: ChangeSet) -> None:
        """A handful of rows as plain statements, sent with the next round trip."""
        sent, from_rows = _split_versions(changes.versions, changes.upserts)
        if sent:
            self._queue(_versions_values_sql(len(sent)), _version_params(sent))
        if changes.upserts:
            params = _resource_params(changes.upserts)
            if not from_rows:
                self._queue(_upsert_values_sql(len(changes.upserts)), params)
            else:
                for version in from_rows:
                    params += (version.uid, version.change.value, _aware(version.changed_at))
                sql = _upsert_with_versions_sql(len(changes.upserts), len(from_rows))
                self._queue(sql, params, _appended(len(from_rows)))
        if changes.tombstones or changes.touches:
            self._queue(_UPDATE_STATES, self._state_update_params(changes))

    def _write_large(self, changes: ChangeSet) -> None:
        """COPY what must be sent, then one merge that appends the rows' versions too."""
        sent, from_rows = _split_versions(changes.versions, changes.upserts)
        with self._raw.cursor() as cursor:
            if sent:
                lines = _version_lines(sent)
                copy_text.copy_lines(cursor, "resource_versions", _VERSIONS, lines)
            if changes.upserts:
                self._merge(cursor, changes.upserts, from_rows)
            if changes.tombstones or changes.touches:
                cursor.execute(_UPDATE_STATES, self._state_update_params(changes))

    def _merge(
        self,
        cursor: psycopg.Cursor[Any],
        upserts: list[ResourceRow],
        versions: list[ResourceVersion],
    ) -> None:
        cursor.execute(_CREATE_INCOMING)
        if self._incoming_used:
            cursor.execute(f"TRUNCATE {_INCOMING}")  # a second write() in the same transaction
        self._incoming_used = True
        copy_text.copy_lines(cursor, _INCOMING, _RESOURCES, _resource_lines(upserts))
        if not versions:
            cursor.execute(_MERGE_INCOMING)
            return
        params = [
            [version.uid for version in versions],
            [version.change.value for version in versions],
            [version.changed_at for version in versions],
        ]
        cursor.execute(_MERGE_INCOMING_WITH_VERSIONS, params)
        _appended(len(versions))(cursor)

    def _state_update_params(self, changes: ChangeSet) -> list[Any]:
        """:data:`_UPDATE_STATES`' arrays (uids, deletion times, versions, times), cluster id."""
        columns = [list(column) for column in zip(*state_updates(changes), strict=True)]
        return [*columns, self.cluster_id]

    def mark_seen(self, seen: ClusterSeen) -> None:
        self._queue_locks()
        sql, params = _mark_seen_sql(seen, skip_locked=self._shared)
        self._queue(sql, [*params, self.cluster_id])

    def drop_staged(self, snapshot_id: str) -> None:
        self._queue_locks()
        self._send()
        super().drop_staged(snapshot_id)


def _split_versions(
    versions: list[ResourceVersion], upserts: list[ResourceRow]
) -> tuple[list[ResourceVersion], list[ResourceVersion]]:
    """The versions to send, and those equal to the row written for their uid.

    The second are copied from the written rows by the server, which spares
    sending and parsing every record twice: each is its uid's last version,
    so a uid's earlier (sent) versions go first and per-uid order (``id``)
    stays the order the changes happened.
    """
    written = {row.uid: row.content_hash for row in upserts}
    last_index = {version.uid: index for index, version in enumerate(versions)}
    sent: list[ResourceVersion] = []
    from_rows: list[ResourceVersion] = []
    for index, version in enumerate(versions):
        if (
            version.record is not None
            and last_index[version.uid] == index
            and written.get(version.uid) == version.content_hash
        ):
            from_rows.append(version)
        else:
            sent.append(version)
    return sent, from_rows


def _appended(expected: int) -> Callable[[psycopg.Cursor[Any]], None]:
    """A check that a merge appended one history version per listed row."""

    def check(cursor: psycopg.Cursor[Any]) -> None:
        if cursor.rowcount != expected:
            # Every uid was written by this very statement; anything else is a bug
            # that would silently lose history, so the transaction must not commit.
            raise RuntimeError(f"history: {cursor.rowcount} versions for {expected} rows")

    return check
