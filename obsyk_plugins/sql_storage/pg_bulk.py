"""PostgreSQL ingestion at ``COPY`` speed.

A snapshot can carry 100,000 resources; row-by-row statements would take
minutes.  Instead, on the transaction's own psycopg connection:

* rows not stored yet (a first snapshot) are ``COPY``-ed straight into
  ``resources``; others are ``COPY``-ed into a temporary table, then merged
  with one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` (which keeps
  ``first_seen_at``);
* a history version equal to its just-written row is copied from that row by
  the server: the merge appends it from its own ``RETURNING`` (one statement),
  rows ``COPY``-ed straight in get one ``INSERT ... SELECT`` per change type
  (a snapshot's records are sent once); other versions (deletions, a batch's
  earlier states of a uid) are ``COPY``-ed into ``resource_versions`` first;
* tombstones are one ``UPDATE ... FROM unnest(...)``.

Rows are encoded for ``COPY`` by :mod:`~obsyk_plugins.sql_storage.copy_text`.

``load_states`` reads only the comparison columns, never the records.

A single upstream event is the opposite case: a row or two, where the
temporary table (catalog writes on every event), the ``COPY`` protocol and one
round trip per statement cost far more than the data.  Small change sets
(fewer than :data:`SMALL_WRITE_ROWS` rows) are therefore written with plain
multi-row ``INSERT ... ON CONFLICT`` statements in psycopg's pipeline mode
(the upsert's ``RETURNING`` feeds the history versions equal to its rows), and
the whole transaction is three round trips: the cluster's ingestion lock and
``load_states`` together; the writes and ``mark_seen`` together
(their errors and checks surface when the block ends); then ``COMMIT``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from functools import lru_cache
from types import TracebackType
from typing import Any, Self

import orjson
import psycopg
from sqlalchemy import Connection

from obsyk_core.storage import (
    ChangeSet,
    ClusterSeen,
    ResourceRow,
    ResourceVersion,
    StoredState,
    Tombstone,
)
from obsyk_plugins.sql_storage import copy_text, rows
from obsyk_plugins.sql_storage.errors import storage_errors
from obsyk_plugins.sql_storage.ingest_tx import UPSERT_REPLACES, SqlIngestTransaction

_RESOURCE_COLUMNS = (
    "cluster_id, uid, kind, namespace, name, labels, annotations, record, content_hash, "
    "first_seen_at, updated_at, deleted_at, resource_version, observed_at"
)
#: The same columns ordered for ``COPY``: the text ones side by side, encoded as one.
_COPY_RESOURCE_COLUMNS = (
    "cluster_id, uid, kind, namespace, name, content_hash, labels, annotations, record, "
    "first_seen_at, updated_at, deleted_at, resource_version, observed_at"
)
_VERSION_COLUMNS = (
    "cluster_id, uid, kind, namespace, name, change, content_hash, record, changed_at"
)
_INCOMING = "obsyk_incoming_resources"
#: Text arrays (``%b::text[]``) are sent in the binary format: psycopg then
#: packs each string as it is, where the text format quotes and escapes every
#: item in Python (~0.4 ms for a 500-uid array, ~0.05 ms in binary).
#: Change sets touching fewer resources than this (and appending fewer history
#: versions) skip the temporary table and ``COPY``.
SMALL_WRITE_ROWS = 64

#: Ingestion is serialised per cluster by a transaction-level advisory lock,
#: keyed in a namespace of our own by the cluster id's hash (two clusters
#: sharing a hash merely take turns; the two-key form never meets one-key
#: locks such as the migrations').  It is not the cluster row's lock: that
#: would queue every write of the row — an agent's heartbeat noting when the
#: cluster was seen — behind an ingestion that may run for a 100,000-resource
#: snapshot.  The row itself is locked only ``FOR KEY SHARE``: the cluster
#: exists, and cannot be deleted (a ``DELETE`` needs the row exclusively)
#: until this transaction ends, while updates of its other columns
#: (``mark_cluster_seen``) go ahead.
#:
#: One statement: the advisory lock is taken in the scan's output, below the
#: row lock (``LockRows``), so a deletion committed while this waited for
#: another ingestion makes the row vanish: no row, ``LookupError``.  The
#: states are read by the next statement, whose snapshot is taken after both.
_INGESTION_LOCKS = 0x0B5C1
_LOCK_CLUSTER = (
    f"SELECT pg_advisory_xact_lock({_INGESTION_LOCKS}, hashtext(id))"
    " FROM clusters WHERE id = %s FOR KEY SHARE"
)
_LOAD_STATES = (
    "SELECT uid, kind, namespace, name, content_hash, resource_version, observed_at, deleted_at"
    " FROM resources WHERE cluster_id = %s"
)
#: Created once per database session (``IF NOT EXISTS`` then only notices it, and
#: a rolled-back creation is simply redone) and emptied by every commit:
#: creating and dropping it per transaction would write the system catalogs each time.
#: Its rows stay inline (see migration 0002) and, on PostgreSQL 14+, any
#: compressed value is compressed as ``resources`` compresses it, so the merge
#: copies values as they are.
_CREATE_INCOMING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_INCOMING}"
    " (LIKE resources INCLUDING DEFAULTS{compression})"
    " WITH (toast_tuple_target = {toast_tuple_target}) ON COMMIT DELETE ROWS"
)
_COLUMN_COMPRESSION_SINCE = 140000
#: A page's header and one line pointer: the largest ``toast_tuple_target`` is
#: the block size less this (as in migration 0002).
_PAGE_OVERHEAD = 32
#: Per connection: ``_CREATE_INCOMING`` for its server (asked once).
_create_incoming_sql: weakref.WeakKeyDictionary[psycopg.Connection[Any], str] = (
    weakref.WeakKeyDictionary()
)
_MERGE_INCOMING = (
    f"INSERT INTO resources ({_RESOURCE_COLUMNS}) SELECT {_RESOURCE_COLUMNS} FROM {_INCOMING}"
    " ON CONFLICT (cluster_id, uid) DO UPDATE SET "
    + ", ".join(f"{name} = EXCLUDED.{name}" for name in UPSERT_REPLACES)
)
#: :data:`_MERGE_INCOMING` that also appends a history version per listed
#: (uid, change) from the rows it writes, at one time: the server hands the
#: written records straight on, instead of finding each row again by uid.
_MERGE_INCOMING_WITH_VERSIONS = (
    f"WITH written AS ({_MERGE_INCOMING}"
    " RETURNING cluster_id, uid, kind, namespace, name, content_hash, record)"
    f" INSERT INTO resource_versions ({_VERSION_COLUMNS})"
    " SELECT w.cluster_id, w.uid, w.kind, w.namespace, w.name, v.change, w.content_hash,"
    " w.record, %s"
    " FROM written AS w JOIN unnest(%b::text[], %b::text[]) AS v(uid, change) ON w.uid = v.uid"
)
#: One history version per listed uid, copied from its just-written row.  The
#: change and time are the same for the whole group, so the only parameter
#: that grows with the batch is one text array (cheap to send, hashed by the
#: server), not three parallel arrays joined back to the table.
_VERSIONS_FROM_ROWS = (
    f"INSERT INTO resource_versions ({_VERSION_COLUMNS})"
    " SELECT r.cluster_id, r.uid, r.kind, r.namespace, r.name, %s, r.content_hash,"
    " r.record, %s"
    " FROM resources AS r WHERE r.cluster_id = %s AND r.uid = ANY(%b::text[])"
)
_TOMBSTONE = (
    "UPDATE resources AS r SET deleted_at = t.deleted_at, updated_at = t.deleted_at,"
    " resource_version = t.resource_version, observed_at = t.observed_at"
    " FROM unnest(%b::text[], %s::timestamptz[], %s::bigint[], %s::timestamptz[])"
    " AS t(uid, deleted_at, resource_version, observed_at)"
    " WHERE r.cluster_id = %s AND r.uid = t.uid"
)

_TOUCH = (
    "UPDATE resources AS r SET resource_version = t.resource_version,"
    " observed_at = t.observed_at"
    " FROM unnest(%b::text[], %s::bigint[], %s::timestamptz[])"
    " AS t(uid, resource_version, observed_at)"
    " WHERE r.cluster_id = %s AND r.uid = t.uid"
)


_UPSERT_ON_CONFLICT = " ON CONFLICT (cluster_id, uid) DO UPDATE SET " + ", ".join(
    f"{name} = EXCLUDED.{name}" for name in UPSERT_REPLACES
)
#: Placeholders of one row, in ``_RESOURCE_COLUMNS`` / ``_VERSION_COLUMNS`` order.
_RESOURCE_VALUES = "(%s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s, %s)"
_VERSION_VALUES = "(%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"


def _incoming_table_sql(cursor: psycopg.Cursor[Any]) -> str:
    """``_CREATE_INCOMING`` for the cursor's server: its page size, its features."""
    connection = cursor.connection
    sql = _create_incoming_sql.get(connection)
    if sql is None:
        cursor.execute("SELECT current_setting('block_size')::int")
        row = cursor.fetchone()
        assert row is not None
        since_14 = connection.info.server_version >= _COLUMN_COMPRESSION_SINCE
        sql = _create_incoming_sql[connection] = _CREATE_INCOMING.format(
            compression=" INCLUDING COMPRESSION" if since_14 else "",
            toast_tuple_target=row[0] - _PAGE_OVERHEAD,
        )
    return sql


@lru_cache(maxsize=SMALL_WRITE_ROWS)
def _upsert_values_sql(count: int) -> str:
    """``INSERT ... VALUES`` of ``count`` resources, keeping a stored ``first_seen_at``."""
    values = ", ".join([_RESOURCE_VALUES] * count)
    return f"INSERT INTO resources ({_RESOURCE_COLUMNS}) VALUES {values}{_UPSERT_ON_CONFLICT}"


@lru_cache(maxsize=4 * SMALL_WRITE_ROWS)
def _upsert_with_versions_sql(rows: int, versions: int) -> str:
    """:func:`_upsert_values_sql` whose ``RETURNING`` appends ``versions`` history versions.

    Each version is (uid, change, time) after the rows' values; its other
    columns and record are those of the row written for its uid.
    """
    values = ", ".join(["(%s::text, %s::text, %s::timestamptz)"] * versions)
    return (
        f"WITH written AS ({_upsert_values_sql(rows)}"
        " RETURNING cluster_id, uid, kind, namespace, name, content_hash, record)"
        f" INSERT INTO resource_versions ({_VERSION_COLUMNS})"
        " SELECT w.cluster_id, w.uid, w.kind, w.namespace, w.name, v.change, w.content_hash,"
        " w.record, v.changed_at"
        f" FROM written AS w JOIN (VALUES {values}) AS v(uid, change, changed_at) ON w.uid = v.uid"
    )


@lru_cache(maxsize=SMALL_WRITE_ROWS)
def _versions_values_sql(count: int) -> str:
    values = ", ".join([_VERSION_VALUES] * count)
    return f"INSERT INTO resource_versions ({_VERSION_COLUMNS}) VALUES {values}"


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        # The same refusal as the COPY and SQLAlchemy paths.
        raise ValueError(f"naive datetime {value!r}: storage takes timezone-aware UTC")
    return value


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _identity(item: ResourceRow | ResourceVersion) -> tuple[str, str, str, str, str]:
    """The leading columns of both tables: cluster id, uid, kind, namespace, name."""
    return item.cluster_id, item.uid, item.kind, rows.namespace_in(item.namespace), item.name


def _resource_params(upserts: Sequence[ResourceRow]) -> list[Any]:
    params: list[Any] = []
    for row in upserts:
        params += (
            *_identity(row),
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
            *_identity(version),
            version.change.value,
            version.content_hash,
            None if version.record is None else _json(version.record),
            _aware(version.changed_at),
        )
    return params


def _mark_seen_sql(seen: ClusterSeen) -> tuple[str, list[Any]]:
    """``mark_cluster_seen`` as one plain statement (``GREATEST`` skips NULLs: never back)."""
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
    return f"UPDATE clusters SET {', '.join(sets)} WHERE id = %s", params


def _resource_lines(upserts: Iterable[ResourceRow]) -> Iterator[bytes]:
    """The rows in ``_COPY_RESOURCE_COLUMNS`` order, as COPY text lines."""
    texts, document, stamp = copy_text.texts, copy_text.json_document, copy_text.Timestamps()
    integer = copy_text.integer

    def record(row: ResourceRow) -> bytes:
        if row.record_json is None:
            return document(row.record)
        return copy_text.json_encoded(row.record_json)

    for row in upserts:
        yield b"\t".join(
            (
                texts(*_identity(row), row.content_hash),
                document(row.labels),
                document(row.annotations),
                record(row),
                stamp(row.first_seen_at),
                stamp(row.updated_at),
                stamp(row.deleted_at),
                integer(row.resource_version),
                stamp(row.observed_at) + b"\n",
            )
        )


def _version_lines(versions: Iterable[ResourceVersion]) -> Iterator[bytes]:
    """The versions in ``_VERSION_COLUMNS`` order, as COPY text lines."""
    texts, stamp = copy_text.texts, copy_text.Timestamps()
    for version in versions:
        yield b"\t".join(
            (
                texts(*_identity(version), version.change.value, version.content_hash),
                copy_text.optional_json_document(version.record),
                stamp(version.changed_at) + b"\n",
            )
        )


class PostgresIngestTransaction(SqlIngestTransaction):
    """The portable transaction with its hot paths done on the raw psycopg connection.

    Used as a context manager inside the SQLAlchemy transaction: it takes the
    cluster's ingestion lock itself, in the same round trip as its first statement
    (``LookupError`` if the cluster does not exist), and on a clean exit sends
    whatever is still queued in the pipeline and checks its results, so the
    caller commits only what was verified.
    """

    def __init__(self, connection: Connection, cluster_id: str) -> None:
        super().__init__(connection, cluster_id)
        #: Uids this transaction knows to be stored (loaded, or written by it);
        #: ``None`` until ``load_states`` runs, meaning "could be anything".
        self._stored_uids: set[str] | None = None
        self._locked = False
        #: The temporary table holds this transaction's earlier rows.
        self._incoming_used = False
        self._pipeline: AbstractContextManager[psycopg.Pipeline] | None = None
        self._cursors: list[psycopg.Cursor[Any]] = []
        #: Run once the pipeline's results are in (they raise to abort the commit).
        self._checks: list[Callable[[], None]] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._queue_lock()  # nothing ran: the cluster must still exist
            self._sync()
        elif self._pipeline is not None:
            # Failing anyway: psycopg logs (not raises) a second error while closing.
            pipeline, self._pipeline = self._pipeline, None
            self._checks.clear()
            try:
                pipeline.__exit__(exc_type, exc, traceback)
            finally:
                self._close_cursors()

    @property
    def _raw(self) -> psycopg.Connection[Any]:
        driver_connection = self.connection.connection.driver_connection
        assert isinstance(driver_connection, psycopg.Connection)
        return driver_connection

    def _queued_cursor(self) -> psycopg.Cursor[Any]:
        """A cursor whose statements are sent without waiting (pipeline mode)."""
        if self._pipeline is None:
            pipeline = self._raw.pipeline()
            pipeline.__enter__()
            self._pipeline = pipeline
        cursor = self._raw.cursor()
        self._cursors.append(cursor)
        return cursor

    def _queue_lock(self) -> None:
        """Serialise ingestion per cluster and pin the cluster row: first in the pipeline."""
        if self._locked:
            return
        self._locked = True
        cursor = self._queued_cursor()
        cursor.execute(_LOCK_CLUSTER, [self.cluster_id])

        def cluster_exists() -> None:
            if cursor.fetchone() is None:
                raise LookupError(f"cluster {self.cluster_id!r} does not exist")

        self._checks.append(cluster_exists)

    def _sync(self) -> None:
        """Send what is queued, wait for every result, then run the checks."""
        pipeline, self._pipeline = self._pipeline, None
        checks, self._checks = self._checks, []
        if pipeline is None:
            return
        try:
            with storage_errors():
                pipeline.__exit__(None, None, None)  # one Sync: every result is in the cursors
                for check in checks:
                    check()
        finally:
            self._close_cursors()

    def _close_cursors(self) -> None:
        cursors, self._cursors = self._cursors, []
        for cursor in cursors:
            cursor.close()

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
        self._queue_lock()
        with storage_errors():
            cursor = self._queued_cursor()
            cursor.execute(sql, params)

            def read_states() -> None:
                states.update((row[0], rows.stored_state(row)) for row in cursor)

            self._checks.append(read_states)
        self._sync()
        self._stored_uids = (self._stored_uids or set()) | states.keys()
        return states

    def write(self, changes: ChangeSet) -> None:
        self._queue_lock()
        resources = len(changes.upserts) + len(changes.tombstones) + len(changes.touches)
        if max(resources, len(changes.versions)) < SMALL_WRITE_ROWS:
            with storage_errors():
                self._queue_small_write(changes)
            return
        self._sync()
        # A uid's earlier (sent) versions go first, so per-uid order (``id``) is
        # the order the changes happened; its last version is copied from the
        # row written for it, by the merge itself where it can.
        sent, from_rows = _split_versions(changes.versions, changes.upserts)
        with storage_errors(), self._raw.cursor() as cursor:
            if sent:
                lines = _version_lines(sent)
                copy_text.copy_lines(cursor, "resource_versions", _VERSION_COLUMNS, lines)
            if changes.upserts:
                from_rows = self._write_upserts(cursor, changes.upserts, from_rows)
            if changes.tombstones:
                self._tombstone(cursor, changes.tombstones)
            if changes.touches:
                self._touch(cursor, changes)
            if from_rows:
                self._versions_from_rows(cursor, from_rows)

    def _queue_small_write(self, changes: ChangeSet) -> None:
        """A handful of rows as plain statements, queued in the pipeline: no temp table, no COPY.

        The upsert's ``RETURNING`` feeds the history versions equal to the
        rows it writes (one statement, each record sent and parsed once);
        other versions go first, as plain values.
        """
        sent, from_rows = _split_versions(changes.versions, changes.upserts)
        if sent:
            self._queued_cursor().execute(_versions_values_sql(len(sent)), _version_params(sent))
        if changes.upserts:
            self._queue_upserts(changes.upserts, from_rows)
        if changes.tombstones:
            self._tombstone(self._queued_cursor(), changes.tombstones)
        if changes.touches:
            self._touch(self._queued_cursor(), changes)

    def _queue_upserts(self, upserts: list[ResourceRow], from_rows: list[ResourceVersion]) -> None:
        cursor = self._queued_cursor()
        params = _resource_params(upserts)
        if not from_rows:
            cursor.execute(_upsert_values_sql(len(upserts)), params)
        else:
            for version in from_rows:
                params += (version.uid, version.change.value, _aware(version.changed_at))
            cursor.execute(_upsert_with_versions_sql(len(upserts), len(from_rows)), params)
            self._checks.append(lambda: _check_copied(cursor.rowcount, len(from_rows)))
        if self._stored_uids is not None:
            self._stored_uids.update(row.uid for row in upserts)

    def mark_seen(self, seen: ClusterSeen) -> None:
        self._queue_lock()
        sql, params = _mark_seen_sql(seen)
        with storage_errors():
            self._queued_cursor().execute(sql, [*params, self.cluster_id])

    def drop_staged(self, snapshot_id: str) -> None:
        self._queue_lock()
        self._sync()
        super().drop_staged(snapshot_id)

    def _touch(self, cursor: psycopg.Cursor[Any], changes: ChangeSet) -> None:
        touches = changes.touches
        cursor.execute(
            _TOUCH,
            [
                [t.uid for t in touches],
                [t.resource_version for t in touches],
                [t.observed_at for t in touches],
                self.cluster_id,
            ],
        )

    def _write_upserts(
        self,
        cursor: psycopg.Cursor[Any],
        upserts: list[ResourceRow],
        versions: list[ResourceVersion],
    ) -> list[ResourceVersion]:
        """Write the rows; return those of ``versions`` (equal to their rows) still to append."""
        known = self._stored_uids
        if known is None:
            return self._merge(cursor, upserts, versions)
        new = [row for row in upserts if row.uid not in known]
        stored = [row for row in upserts if row.uid in known]
        if new and not self._insert_new(cursor, new):
            stored = upserts
        known.update(row.uid for row in upserts)
        if not stored:
            return versions
        merged = {row.uid for row in stored}
        rest = [version for version in versions if version.uid not in merged]
        return rest + self._merge(cursor, stored, [v for v in versions if v.uid in merged])

    def _insert_new(self, cursor: psycopg.Cursor[Any], new: list[ResourceRow]) -> bool:
        """COPY rows straight into ``resources``: the first snapshot's fast path.

        ``load_states`` may have been narrowed (by kind), so a "new" uid can
        still exist; then the savepoint undoes the COPY and the caller merges.
        """
        try:
            with self._raw.transaction():  # a SAVEPOINT inside the ingest transaction
                copy_text.copy_lines(
                    cursor, "resources", _COPY_RESOURCE_COLUMNS, _resource_lines(new)
                )
        except psycopg.errors.UniqueViolation:
            return False
        return True

    def _merge(
        self,
        cursor: psycopg.Cursor[Any],
        upserts: list[ResourceRow],
        versions: list[ResourceVersion],
    ) -> list[ResourceVersion]:
        """Upsert through the temporary table; ``versions`` too when they share one time.

        Returns the versions not appended (to copy from the rows afterwards).
        """
        cursor.execute(_incoming_table_sql(cursor))
        if self._incoming_used:
            cursor.execute(f"TRUNCATE {_INCOMING}")  # a second write() in the same transaction
        self._incoming_used = True
        copy_text.copy_lines(cursor, _INCOMING, _COPY_RESOURCE_COLUMNS, _resource_lines(upserts))
        times = {version.changed_at for version in versions}
        if len(times) != 1:
            cursor.execute(_MERGE_INCOMING)
            return versions
        uids = [version.uid for version in versions]
        changes = [version.change.value for version in versions]
        cursor.execute(_MERGE_INCOMING_WITH_VERSIONS, [times.pop(), uids, changes])
        _check_copied(cursor.rowcount, len(versions))
        return []

    def _tombstone(self, cursor: psycopg.Cursor[Any], tombstones: list[Tombstone]) -> None:
        cursor.execute(
            _TOMBSTONE,
            [
                [t.uid for t in tombstones],
                [t.deleted_at for t in tombstones],
                [t.resource_version for t in tombstones],
                [t.observed_at for t in tombstones],
                self.cluster_id,
            ],
        )

    def _versions_from_rows(
        self, cursor: psycopg.Cursor[Any], versions: list[ResourceVersion]
    ) -> None:
        """One ``INSERT ... SELECT`` per (change, time): a snapshot's history in one statement."""
        groups: dict[tuple[str, datetime], list[str]] = {}
        for version in versions:
            groups.setdefault((version.change.value, version.changed_at), []).append(version.uid)
        for (change, changed_at), uids in groups.items():
            cursor.execute(_VERSIONS_FROM_ROWS, [change, changed_at, self.cluster_id, uids])
            _check_copied(cursor.rowcount, len(uids))


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


def _check_copied(copied: int, expected: int) -> None:
    if copied != expected:
        # Every uid was written by this very write(); anything else is a bug that
        # would silently lose history, so the transaction must not commit.
        raise RuntimeError(f"history: {copied} versions copied for {expected} written rows")
