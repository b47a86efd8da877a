"""PostgreSQL ingestion at ``COPY`` speed.

A snapshot can carry 100,000 resources; row-by-row statements would take
minutes.  Instead, on the transaction's own psycopg connection:

* rows not stored yet (a first snapshot) are ``COPY``-ed straight into
  ``resources``; others are ``COPY``-ed into a temporary table, then merged
  with one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` (which keeps
  ``first_seen_at``);
* a history version equal to its just-written row is copied from that row by
  the server (one ``INSERT ... SELECT`` per change type: a snapshot's records
  are sent once); other versions (deletions, a batch's earlier states of a
  uid) are ``COPY``-ed into ``resource_versions``;
* tombstones are one ``UPDATE ... FROM unnest(...)``.

Rows are encoded for ``COPY`` by :mod:`~obsyk_plugins.sql_storage.copy_text`.

``load_states`` reads only the comparison columns, never the records.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Connection

from obsyk_core.storage import ChangeSet, ResourceRow, ResourceVersion, StoredState, Tombstone
from obsyk_plugins.sql_storage import copy_text, rows
from obsyk_plugins.sql_storage.errors import storage_errors
from obsyk_plugins.sql_storage.ingest_tx import UPSERT_REPLACES, SqlIngestTransaction

_RESOURCE_COLUMNS = (
    "cluster_id, uid, kind, namespace, name, labels, annotations, record, content_hash, "
    "first_seen_at, updated_at, deleted_at, resource_version, observed_at"
)
_VERSION_COLUMNS = (
    "cluster_id, uid, kind, namespace, name, change, content_hash, record, changed_at"
)
_INCOMING = "obsyk_incoming_resources"

_LOAD_STATES = (
    "SELECT uid, kind, namespace, name, content_hash, resource_version, observed_at, deleted_at"
    " FROM resources WHERE cluster_id = %s"
)
_CREATE_INCOMING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_INCOMING}"
    " (LIKE resources INCLUDING DEFAULTS) ON COMMIT DROP"
)
_MERGE_INCOMING = (
    f"INSERT INTO resources ({_RESOURCE_COLUMNS}) SELECT {_RESOURCE_COLUMNS} FROM {_INCOMING}"
    " ON CONFLICT (cluster_id, uid) DO UPDATE SET "
    + ", ".join(f"{name} = EXCLUDED.{name}" for name in UPSERT_REPLACES)
)
#: One history version per listed uid, copied from its just-written row.  The
#: change and time are the same for the whole group, so the only parameter
#: that grows with the batch is one text array (cheap to send, hashed by the
#: server), not three parallel arrays joined back to the table.
_VERSIONS_FROM_ROWS = (
    f"INSERT INTO resource_versions ({_VERSION_COLUMNS})"
    " SELECT r.cluster_id, r.uid, r.kind, r.namespace, r.name, %s, r.content_hash,"
    " r.record, %s"
    " FROM resources AS r WHERE r.cluster_id = %s AND r.uid = ANY(%s::text[])"
)
_TOMBSTONE = (
    "UPDATE resources AS r SET deleted_at = t.deleted_at, updated_at = t.deleted_at,"
    " resource_version = t.resource_version, observed_at = t.observed_at"
    " FROM unnest(%s::text[], %s::timestamptz[], %s::bigint[], %s::timestamptz[])"
    " AS t(uid, deleted_at, resource_version, observed_at)"
    " WHERE r.cluster_id = %s AND r.uid = t.uid"
)

_TOUCH = (
    "UPDATE resources AS r SET resource_version = t.resource_version,"
    " observed_at = t.observed_at"
    " FROM unnest(%s::text[], %s::bigint[], %s::timestamptz[])"
    " AS t(uid, resource_version, observed_at)"
    " WHERE r.cluster_id = %s AND r.uid = t.uid"
)


def _resource_lines(upserts: Iterable[ResourceRow]) -> Iterator[bytes]:
    """The rows in ``_RESOURCE_COLUMNS`` order, as COPY text lines."""
    text, document, stamp = copy_text.text, copy_text.json_document, copy_text.Timestamps()
    for row in upserts:
        yield (
            b"\t".join(
                (
                    text(row.cluster_id),
                    text(row.uid),
                    text(row.kind),
                    text(rows.namespace_in(row.namespace)),
                    text(row.name),
                    document(row.labels),
                    document(row.annotations),
                    document(row.record),
                    text(row.content_hash),
                    stamp(row.first_seen_at),
                    stamp(row.updated_at),
                    stamp(row.deleted_at),
                    copy_text.integer(row.resource_version),
                    stamp(row.observed_at),
                )
            )
            + b"\n"
        )


def _version_lines(versions: Iterable[ResourceVersion]) -> Iterator[bytes]:
    """The versions in ``_VERSION_COLUMNS`` order, as COPY text lines."""
    text, stamp = copy_text.text, copy_text.Timestamps()
    for version in versions:
        yield (
            b"\t".join(
                (
                    text(version.cluster_id),
                    text(version.uid),
                    text(version.kind),
                    text(rows.namespace_in(version.namespace)),
                    text(version.name),
                    text(version.change.value),
                    text(version.content_hash),
                    copy_text.optional_json_document(version.record),
                    stamp(version.changed_at),
                )
            )
            + b"\n"
        )


class PostgresIngestTransaction(SqlIngestTransaction):
    """The portable transaction with its hot paths done on the raw psycopg connection."""

    def __init__(self, connection: Connection, cluster_id: str) -> None:
        super().__init__(connection, cluster_id)
        #: Uids this transaction knows to be stored (loaded, or written by it);
        #: ``None`` until ``load_states`` runs, meaning "could be anything".
        self._stored_uids: set[str] | None = None

    @property
    def _raw(self) -> psycopg.Connection[Any]:
        driver_connection = self.connection.connection.driver_connection
        assert isinstance(driver_connection, psycopg.Connection)
        return driver_connection

    def load_states(
        self, *, kinds: Collection[str] | None = None, uids: Collection[str] | None = None
    ) -> dict[str, StoredState]:
        sql = _LOAD_STATES
        params: list[Any] = [self.cluster_id]
        if kinds is not None:
            sql += " AND kind = ANY(%s::text[])"
            params.append(list(kinds))
        if uids is not None:
            sql += " AND uid = ANY(%s::text[])"
            params.append(list(uids))
        with storage_errors(), self._raw.cursor() as cursor:
            cursor.execute(sql, params)
            states = {row[0]: rows.stored_state(row) for row in cursor}
        self._stored_uids = (self._stored_uids or set()) | states.keys()
        return states

    def write(self, changes: ChangeSet) -> None:
        with storage_errors(), self._raw.cursor() as cursor:
            if changes.upserts:
                self._write_upserts(cursor, changes.upserts)
            if changes.tombstones:
                self._tombstone(cursor, changes.tombstones)
            if changes.touches:
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
            if changes.versions:
                self._append_versions(cursor, changes.versions, changes.upserts)

    def _write_upserts(self, cursor: psycopg.Cursor[Any], upserts: list[ResourceRow]) -> None:
        known = self._stored_uids
        if known is None:
            self._merge(cursor, upserts)
            return
        new = [row for row in upserts if row.uid not in known]
        stored = [row for row in upserts if row.uid in known]
        if new and not self._insert_new(cursor, new):
            stored = upserts
        if stored:
            self._merge(cursor, stored)
        known.update(row.uid for row in upserts)

    def _insert_new(self, cursor: psycopg.Cursor[Any], new: list[ResourceRow]) -> bool:
        """COPY rows straight into ``resources``: the first snapshot's fast path.

        ``load_states`` may have been narrowed (by kind), so a "new" uid can
        still exist; then the savepoint undoes the COPY and the caller merges.
        """
        try:
            with self._raw.transaction():  # a SAVEPOINT inside the ingest transaction
                copy_text.copy_lines(cursor, "resources", _RESOURCE_COLUMNS, _resource_lines(new))
        except psycopg.errors.UniqueViolation:
            return False
        return True

    def _merge(self, cursor: psycopg.Cursor[Any], upserts: list[ResourceRow]) -> None:
        cursor.execute(_CREATE_INCOMING)
        cursor.execute(f"TRUNCATE {_INCOMING}")  # a second write() in the same transaction
        copy_text.copy_lines(cursor, _INCOMING, _RESOURCE_COLUMNS, _resource_lines(upserts))
        cursor.execute(_MERGE_INCOMING)

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

    def _append_versions(
        self,
        cursor: psycopg.Cursor[Any],
        versions: list[ResourceVersion],
        upserts: list[ResourceRow],
    ) -> None:
        """Append history; a version equal to its just-written row reuses that row's record.

        Copying the stored JSONB inside the server spares sending and parsing
        every record twice.  A uid's earlier versions go first, so per-uid
        order (``id``) is the order the changes happened.
        """
        written = {row.uid: row.content_hash for row in upserts}
        last_index = {version.uid: index for index, version in enumerate(versions)}
        from_rows: list[ResourceVersion] = []
        sent: list[ResourceVersion] = []
        for index, version in enumerate(versions):
            if (
                version.record is not None
                and last_index[version.uid] == index
                and written.get(version.uid) == version.content_hash
            ):
                from_rows.append(version)
            else:
                sent.append(version)
        if sent:
            lines = _version_lines(sent)
            copy_text.copy_lines(cursor, "resource_versions", _VERSION_COLUMNS, lines)
        if from_rows:
            self._versions_from_rows(cursor, from_rows)

    def _versions_from_rows(
        self, cursor: psycopg.Cursor[Any], versions: list[ResourceVersion]
    ) -> None:
        """One ``INSERT ... SELECT`` per (change, time): a snapshot's history in one statement."""
        groups: dict[tuple[str, datetime], list[str]] = {}
        for version in versions:
            groups.setdefault((version.change.value, version.changed_at), []).append(version.uid)
        for (change, changed_at), uids in groups.items():
            cursor.execute(_VERSIONS_FROM_ROWS, [change, changed_at, self.cluster_id, uids])
            if cursor.rowcount != len(uids):
                # Every uid was written by this very write(); anything else is a bug
                # that would silently lose history, so the transaction must not commit.
                raise RuntimeError(
                    f"history: {cursor.rowcount} versions copied for {len(uids)} written rows"
                )
