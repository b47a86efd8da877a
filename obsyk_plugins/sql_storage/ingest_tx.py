"""Ingest transactions: the portable one (SQLAlchemy executemany, used on SQLite).

The caller (:meth:`SqlStorage.ingest`) has already begun the transaction and
locked the cluster; these classes only read and write inside it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from obsyk_core.storage import (
    ChangeSet,
    ClusterSeen,
    IngestTransaction,
    ResourceRow,
    ResourceVersion,
    StoredState,
    check_scope,
)
from obsyk_plugins.sql_storage import rows
from obsyk_plugins.sql_storage.errors import storage_errors
from obsyk_plugins.sql_storage.models import (
    RESOURCE_COLUMNS,
    VERSION_COLUMNS,
    ClusterModel,
    ResourceModel,
    ResourceVersionModel,
    SnapshotChunkModel,
)

#: Columns an upsert replaces: all but the key, and ``first_seen_at`` is kept
#: from the stored row.
UPSERT_REPLACES = tuple(
    name for name in RESOURCE_COLUMNS if name not in ("cluster_id", "uid", "first_seen_at")
)

STATE_COLUMNS = (
    ResourceModel.uid,
    ResourceModel.kind,
    ResourceModel.namespace,
    ResourceModel.name,
    ResourceModel.content_hash,
    ResourceModel.resource_version,
    ResourceModel.observed_at,
    ResourceModel.deleted_at,
)


def resource_values(row: ResourceRow) -> dict[str, Any]:
    """``row`` by ``resources``' column names (SQLAlchemy encodes the JSON documents)."""
    documents = dict(row.labels), dict(row.annotations), dict(row.record)
    times = row.first_seen_at, row.updated_at, row.deleted_at
    cells = (*documents, row.content_hash, *times, row.resource_version, row.observed_at)
    return dict(zip(RESOURCE_COLUMNS, (*rows.identity(row), *cells), strict=True))


def version_values(version: ResourceVersion) -> dict[str, Any]:
    """``version`` by ``resource_versions``' column names."""
    record = None if version.record is None else dict(version.record)
    cells = (version.change.value, version.content_hash, record, version.changed_at)
    return dict(zip(VERSION_COLUMNS, (*rows.identity(version), *cells), strict=True))


def latest_of(column: Any, value: Any) -> ColumnElement[Any]:
    """SQL for "the later of the stored value and ``value``" (NULL-safe, any database)."""
    bound = literal(value, type_=column.type)
    return case((column.is_(None), bound), (column < bound, bound), else_=column)


#: A tombstone or touch as one ``UPDATE``'s values; a touch has no ``deleted_at``.
StateUpdate = tuple[str, datetime | None, int | None, datetime]
STATE_UPDATE_PARAMS = ("b_uid", "b_deleted_at", "b_resource_version", "b_observed_at")


def state_updates(changes: ChangeSet) -> list[StateUpdate]:
    """Tombstones and touches, written by one ``UPDATE`` that keeps a touched row's deletion."""
    updates: list[StateUpdate] = [
        (t.uid, t.deleted_at, t.resource_version, t.observed_at) for t in changes.tombstones
    ]
    updates += [(t.uid, None, t.resource_version, t.observed_at) for t in changes.touches]
    return updates


class SqlIngestTransaction(IngestTransaction):
    """Writes with SQLAlchemy Core statements; good for SQLite's in-process speed."""

    def __init__(
        self, connection: Connection, cluster_id: str, uids: Collection[str] | None = None
    ) -> None:
        self.connection = connection
        self.cluster_id = cluster_id
        #: The objects this transaction may write (``Storage.ingest``); None: any.
        self.uids = None if uids is None else frozenset(uids)

    def load_states(
        self, *, kinds: Collection[str] | None = None, uids: Collection[str] | None = None
    ) -> dict[str, StoredState]:
        statement = select(*STATE_COLUMNS).where(ResourceModel.cluster_id == self.cluster_id)
        if kinds is not None:
            statement = statement.where(ResourceModel.kind.in_(list(kinds)))
        if uids is not None:
            statement = statement.where(ResourceModel.uid.in_(list(uids)))
        with storage_errors():
            return {row.uid: rows.stored_state(row) for row in self.connection.execute(statement)}

    def write(self, changes: ChangeSet) -> None:
        check_scope(changes, self.uids)
        with storage_errors():
            if changes.upserts:
                self._upsert(changes.upserts)
            if changes.tombstones or changes.touches:
                deleted_at = bindparam("b_deleted_at", type_=ResourceModel.deleted_at.type)
                self.connection.execute(
                    update(ResourceModel)
                    .where(
                        ResourceModel.cluster_id == self.cluster_id,
                        ResourceModel.uid == bindparam("b_uid"),
                    )
                    .values(
                        deleted_at=func.coalesce(deleted_at, ResourceModel.deleted_at),
                        updated_at=func.coalesce(deleted_at, ResourceModel.updated_at),
                        resource_version=bindparam("b_resource_version"),
                        observed_at=bindparam("b_observed_at"),
                    ),
                    [
                        dict(zip(STATE_UPDATE_PARAMS, u, strict=True))
                        for u in state_updates(changes)
                    ],
                )
            if changes.versions:
                self.connection.execute(
                    insert(ResourceVersionModel),
                    [version_values(version) for version in changes.versions],
                )

    def _upsert(self, upserts: list[ResourceRow]) -> None:
        statement = sqlite_insert(ResourceModel)
        statement = statement.on_conflict_do_update(
            index_elements=[ResourceModel.cluster_id, ResourceModel.uid],
            set_={name: statement.excluded[name] for name in UPSERT_REPLACES},
        )
        self.connection.execute(statement, [resource_values(row) for row in upserts])

    def drop_staged(self, snapshot_id: str) -> None:
        with storage_errors():
            self.connection.execute(
                delete(SnapshotChunkModel).where(
                    SnapshotChunkModel.cluster_id == self.cluster_id,
                    SnapshotChunkModel.snapshot_id == snapshot_id,
                )
            )

    def mark_seen(self, seen: ClusterSeen) -> None:
        with storage_errors():
            mark_cluster_seen(self.connection, self.cluster_id, seen)


def mark_cluster_seen(connection: Connection, cluster_id: str, seen: ClusterSeen) -> None:
    """Move the cluster's "last ..." times forward (never back) and note versions."""
    cluster = ClusterModel
    values: dict[str, Any] = {"last_seen_at": latest_of(cluster.last_seen_at, seen.seen_at)}
    if seen.heartbeat_at is not None:
        values["last_heartbeat_at"] = latest_of(cluster.last_heartbeat_at, seen.heartbeat_at)
    if seen.snapshot_at is not None:
        values["last_snapshot_at"] = latest_of(cluster.last_snapshot_at, seen.snapshot_at)
    if seen.agent_version:
        values["agent_version"] = seen.agent_version
    if seen.kubernetes_version:
        values["kubernetes_version"] = seen.kubernetes_version
    connection.execute(update(cluster).where(cluster.id == cluster_id).values(**values))
