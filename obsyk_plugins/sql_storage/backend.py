"""The SQLAlchemy :class:`~obsyk_core.storage.Storage`: PostgreSQL and SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from obsyk_core.attention import AttentionItem, AttentionRules
from obsyk_core.images import ImageUse
from obsyk_core.storage import (
    ApiToken,
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
)
from obsyk_plugins.sql_storage import images, rows
from obsyk_plugins.sql_storage.attention import attention_items
from obsyk_plugins.sql_storage.engine import SQLITE_BEGIN_OPTION, create_storage_engine
from obsyk_plugins.sql_storage.errors import storage_errors
from obsyk_plugins.sql_storage.ingest_tx import (
    STATE_COLUMNS,
    SqlIngestTransaction,
    mark_cluster_seen,
)
from obsyk_plugins.sql_storage.migrate import upgrade_to_head
from obsyk_plugins.sql_storage.models import (
    ApiTokenModel,
    ClusterModel,
    CredentialModel,
    MembershipModel,
    OrganizationModel,
    ResourceModel,
    ResourceVersionModel,
    SnapshotChunkModel,
    UserModel,
)
from obsyk_plugins.sql_storage.people import SqlPeople
from obsyk_plugins.sql_storage.queries import resource_query

#: Rows fetched per round trip when streaming records.
STREAM_BATCH = 1000


#: One statement, one round trip: an unrevoked token joined to its holder's
#: membership in the token's org.  Built once: it runs on every API request.
_AUTHENTICATE_API_TOKEN = (
    select(ApiTokenModel.__table__, MembershipModel.role)
    .join(
        MembershipModel,
        and_(
            MembershipModel.org_id == ApiTokenModel.org_id,
            MembershipModel.user_id == ApiTokenModel.user_id,
        ),
    )
    .where(ApiTokenModel.token_hash == bindparam("token_hash"), ApiTokenModel.revoked_at.is_(None))
)


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


class SqlStorage(SqlPeople, Storage):
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_storage_engine(url)
        self.dialect = self.engine.dialect.name
        # Same pool, autocommit sessions: a one-statement read needs no BEGIN/COMMIT
        # round trips (a single statement is its own consistent snapshot).  SQLite
        # keeps its transactions: they cost no round trip there.
        self._one_statement_engine = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else self.engine
        )

    # -- lifecycle

    def migrate(self) -> None:
        with storage_errors():
            upgrade_to_head(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with storage_errors(), self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def _reading_one_statement(self) -> Iterator[Connection]:
        """A connection for a read that sends exactly ONE statement.

        On PostgreSQL it runs in autocommit, saving two of its three round trips;
        a read sending several statements must use :meth:`_reading` instead, so
        that they all see one snapshot.
        """
        with storage_errors(), self._one_statement_engine.connect() as connection:
            yield connection

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with storage_errors(), self.engine.connect() as connection:
            if self.dialect == "sqlite":
                # Take the write lock up front (see engine.py): queue, don't fail.
                connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            with connection.begin():
                yield connection

    def _insert(self, model: type) -> postgresql.Insert | sqlite.Insert:
        """The dialect's INSERT, which knows ON CONFLICT."""
        if self.dialect == "postgresql":
            return postgresql.insert(model)
        return sqlite.insert(model)

    # -- organizations, users, memberships, API tokens

    def create_org(self, name: str) -> Organization:
        org = Organization(id=_new_id(), name=name, created_at=_now())
        try:
            with self._writing() as connection:
                connection.execute(
                    insert(OrganizationModel).values(
                        id=org.id, name=org.name, created_at=org.created_at
                    )
                )
        except sa_exc.IntegrityError:
            raise ConflictError(f"organization name {name!r} is already taken") from None
        return org

    def get_org(self, ref: str) -> Organization | None:
        with self._reading() as connection:
            row = connection.execute(
                select(OrganizationModel.__table__).where(OrganizationModel.id == ref)
            ).first()
            if row is None:
                row = connection.execute(
                    select(OrganizationModel.__table__).where(OrganizationModel.name == ref)
                ).first()
        return None if row is None else rows.organization(row)

    def list_orgs(self) -> list[Organization]:
        with self._reading_one_statement() as connection:
            result = connection.execute(
                select(OrganizationModel.__table__).order_by(
                    OrganizationModel.name, OrganizationModel.id
                )
            )
            return [rows.organization(row) for row in result]

    def ensure_user(self, email: str) -> User:
        key = email.casefold()
        with self._writing() as connection:
            existing = connection.execute(
                select(UserModel.__table__).where(UserModel.email_key == key)
            ).first()
            if existing is not None:
                return rows.user(existing)
            user = User(id=_new_id(), email=email, created_at=_now())
            connection.execute(
                insert(UserModel).values(
                    id=user.id, email=email, email_key=key, created_at=user.created_at
                )
            )
            return user

    def get_user(self, user_id: str) -> User | None:
        with self._reading_one_statement() as connection:
            row = connection.execute(
                select(UserModel.__table__).where(UserModel.id == user_id)
            ).first()
        return None if row is None else rows.user(row)

    def set_membership(self, org_id: str, user_id: str, role: Role) -> Membership:
        statement = self._insert(MembershipModel).values(org_id=org_id, user_id=user_id, role=role)
        statement = statement.on_conflict_do_update(
            index_elements=[MembershipModel.org_id, MembershipModel.user_id],
            set_={"role": role},
        )
        with self._writing() as connection:
            connection.execute(statement)
        return Membership(org_id=org_id, user_id=user_id, role=role)

    def get_membership(self, org_id: str, user_id: str) -> Membership | None:
        with self._reading_one_statement() as connection:
            role = connection.execute(
                select(MembershipModel.role).where(
                    MembershipModel.org_id == org_id, MembershipModel.user_id == user_id
                )
            ).scalar()
        return None if role is None else Membership(org_id, user_id, cast(Role, role))

    def create_api_token(
        self,
        org_id: str,
        user_id: str,
        token_hash: str,
        name: str,
        *,
        expires_at: datetime | None = None,
    ) -> ApiToken:
        token = ApiToken(
            id=_new_id(),
            org_id=org_id,
            user_id=user_id,
            token_hash=token_hash,
            name=name,
            created_at=_now(),
            expires_at=expires_at,
        )
        try:
            with self._writing() as connection:
                connection.execute(
                    insert(ApiTokenModel).values(
                        id=token.id,
                        org_id=org_id,
                        user_id=user_id,
                        token_hash=token_hash,
                        name=name,
                        created_at=token.created_at,
                        expires_at=expires_at,
                    )
                )
        except sa_exc.IntegrityError as error:
            raise ConflictError(f"cannot create API token: {error.orig}") from None
        return token

    def find_api_token(self, token_hash: str) -> ApiToken | None:
        with self._reading_one_statement() as connection:
            row = connection.execute(
                select(ApiTokenModel.__table__).where(
                    ApiTokenModel.token_hash == token_hash, ApiTokenModel.revoked_at.is_(None)
                )
            ).first()
        return None if row is None else rows.api_token(row)

    def authenticate_api_token(self, token_hash: str) -> tuple[ApiToken, Membership] | None:
        with self._reading_one_statement() as connection:
            row = connection.execute(_AUTHENTICATE_API_TOKEN, {"token_hash": token_hash}).first()
        if row is None:
            return None
        token = rows.api_token(row)
        return token, Membership(token.org_id, token.user_id, cast(Role, row.role))

    def revoke_api_token(self, token_id: str, at: datetime) -> bool:
        with self._writing() as connection:
            result = connection.execute(
                update(ApiTokenModel)
                .where(ApiTokenModel.id == token_id, ApiTokenModel.revoked_at.is_(None))
                .values(revoked_at=at)
            )
        return bool(result.rowcount)

    # -- clusters and credentials

    def create_cluster(self, org_id: str, name: str) -> Cluster:
        cluster = Cluster(id=_new_id(), org_id=org_id, name=name, created_at=_now())
        try:
            with self._writing() as connection:
                connection.execute(
                    insert(ClusterModel).values(
                        id=cluster.id, org_id=org_id, name=name, created_at=cluster.created_at
                    )
                )
        except sa_exc.IntegrityError:
            raise ConflictError(
                f"the organization already has a cluster named {name!r} (or does not exist)"
            ) from None
        return cluster

    def get_cluster(self, org_id: str, cluster_id: str) -> Cluster | None:
        with self._reading_one_statement() as connection:
            row = connection.execute(
                select(ClusterModel.__table__).where(
                    ClusterModel.id == cluster_id, ClusterModel.org_id == org_id
                )
            ).first()
        return None if row is None else rows.cluster(row)

    def list_clusters(
        self, org_id: str, *, after: str | None = None, limit: int | None = None
    ) -> list[Cluster]:
        statement = (
            select(ClusterModel.__table__)
            .where(ClusterModel.org_id == org_id)
            .order_by(ClusterModel.name, ClusterModel.id)
        )
        if after is not None:
            position = (
                select(ClusterModel.name, ClusterModel.id)
                .where(ClusterModel.id == after, ClusterModel.org_id == org_id)
                .subquery()
            )
            statement = statement.join(
                position, tuple_(ClusterModel.name, ClusterModel.id) > tuple_(*position.c)
            )
        if limit is not None:
            statement = statement.limit(limit)
        with self._reading_one_statement() as connection:
            return [rows.cluster(row) for row in connection.execute(statement)]

    def delete_cluster(self, org_id: str, cluster_id: str) -> bool:
        # Credentials, resources, history and staging go with it (ON DELETE CASCADE).
        with self._writing() as connection:
            result = connection.execute(
                delete(ClusterModel).where(
                    ClusterModel.id == cluster_id, ClusterModel.org_id == org_id
                )
            )
        return bool(result.rowcount)

    def bind_cluster_uid(self, cluster_id: str, cluster_uid: str) -> bool:
        with self._writing() as connection:
            connection.execute(
                update(ClusterModel)
                .where(ClusterModel.id == cluster_id, ClusterModel.cluster_uid.is_(None))
                .values(cluster_uid=cluster_uid)
            )
            bound = connection.execute(
                select(ClusterModel.cluster_uid).where(ClusterModel.id == cluster_id)
            ).scalar()
        return bound == cluster_uid

    def mark_cluster_seen(self, cluster_id: str, seen: ClusterSeen) -> None:
        with self._writing() as connection:
            mark_cluster_seen(connection, cluster_id, seen)

    def add_credential(self, credential: Credential) -> Credential:
        try:
            with self._writing() as connection:
                connection.execute(
                    insert(CredentialModel).values(
                        client_id=credential.client_id,
                        org_id=credential.org_id,
                        cluster_id=credential.cluster_id,
                        public_key_pem=credential.public_key_pem,
                        created_at=credential.created_at,
                        revoked_at=credential.revoked_at,
                    )
                )
        except sa_exc.IntegrityError as error:
            raise ConflictError(
                f"cannot add credential {credential.client_id!r}: {error.orig}"
            ) from None
        return credential

    def create_cluster_with_credential(
        self, org_id: str, name: str, *, client_id: str, public_key_pem: str, at: datetime
    ) -> tuple[Cluster, Credential]:
        cluster = Cluster(id=_new_id(), org_id=org_id, name=name, created_at=_now())
        credential = Credential(
            client_id=client_id,
            org_id=org_id,
            cluster_id=cluster.id,
            public_key_pem=public_key_pem,
            created_at=at,
        )
        try:
            # One transaction: a refused credential rolls the cluster back with it.
            with self._writing() as connection:
                connection.execute(
                    insert(ClusterModel).values(
                        id=cluster.id, org_id=org_id, name=name, created_at=cluster.created_at
                    )
                )
                connection.execute(
                    insert(CredentialModel).values(
                        client_id=client_id,
                        org_id=org_id,
                        cluster_id=cluster.id,
                        public_key_pem=public_key_pem,
                        created_at=at,
                    )
                )
        except sa_exc.IntegrityError as error:
            raise ConflictError(
                f"cannot register cluster {name!r} with client id {client_id!r}: {error.orig}"
            ) from None
        return cluster, credential

    def get_credential(self, client_id: str) -> Credential | None:
        with self._reading_one_statement() as connection:
            row = connection.execute(
                select(CredentialModel.__table__).where(CredentialModel.client_id == client_id)
            ).first()
        return None if row is None else rows.credential(row)

    def list_credentials(self, cluster_id: str) -> list[Credential]:
        with self._reading_one_statement() as connection:
            result = connection.execute(
                select(CredentialModel.__table__)
                .where(CredentialModel.cluster_id == cluster_id)
                .order_by(CredentialModel.created_at, CredentialModel.client_id)
            )
            return [rows.credential(row) for row in result]

    def revoke_credential(self, client_id: str, at: datetime) -> bool:
        with self._writing() as connection:
            result = connection.execute(
                update(CredentialModel)
                .where(CredentialModel.client_id == client_id, CredentialModel.revoked_at.is_(None))
                .values(revoked_at=at)
            )
        return bool(result.rowcount)

    # -- ingestion

    @contextmanager
    def ingest(
        self, cluster_id: str, *, uids: Collection[str] | None = None
    ) -> Iterator[IngestTransaction]:
        with self._writing() as connection:
            if self.dialect == "postgresql":
                from obsyk_plugins.sql_storage.pg_bulk import PostgresIngestTransaction

                # It takes the cluster's (and objects') locks itself, with its first read.
                with PostgresIngestTransaction(connection, cluster_id, uids) as tx:
                    yield tx
                return
            # SQLite's BEGIN IMMEDIATE already serialised ingestion; check the cluster.
            lock = select(ClusterModel.id).where(ClusterModel.id == cluster_id)
            if connection.execute(lock).scalar() is None:
                raise LookupError(f"cluster {cluster_id!r} does not exist")
            yield SqlIngestTransaction(connection, cluster_id, uids)

    def stored_states(self, cluster_id: str, kinds: Collection[str]) -> list[StoredState]:
        # One plain SELECT outside any ingest transaction: it takes no lock on the
        # cluster row, so it reads the last committed state instead of queueing
        # behind a snapshot being reconciled (MVCC on PostgreSQL, WAL on SQLite).
        if not kinds:
            return []
        statement = select(*STATE_COLUMNS).where(
            ResourceModel.cluster_id == cluster_id, ResourceModel.kind.in_(list(kinds))
        )
        with self._reading_one_statement() as connection:
            return [rows.stored_state(row) for row in connection.execute(statement)]

    def stage_chunk(self, cluster_id: str, chunk: StagedChunk) -> None:
        values = {
            "cluster_id": cluster_id,
            "snapshot_id": chunk.snapshot_id,
            "chunk": chunk.chunk,
            "final": chunk.final,
            "payload": chunk.payload,
            "received_at": chunk.received_at,
        }
        statement = self._insert(SnapshotChunkModel).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[
                SnapshotChunkModel.cluster_id,
                SnapshotChunkModel.snapshot_id,
                SnapshotChunkModel.chunk,
            ],
            set_={name: values[name] for name in ("final", "payload", "received_at")},
        )
        with self._writing() as connection:
            connection.execute(statement)

    def staged_chunks(self, cluster_id: str, snapshot_id: str) -> list[StagedChunk]:
        with self._reading_one_statement() as connection:
            result = connection.execute(
                select(SnapshotChunkModel.__table__)
                .where(
                    SnapshotChunkModel.cluster_id == cluster_id,
                    SnapshotChunkModel.snapshot_id == snapshot_id,
                )
                .order_by(SnapshotChunkModel.chunk)
            )
            return [rows.staged_chunk(row) for row in result]

    def ready_snapshots(self, cluster_id: str | None = None) -> list[ReadySnapshot]:
        chunk = SnapshotChunkModel
        finals_of = select(
            chunk.cluster_id, chunk.snapshot_id, func.min(chunk.chunk).label("last")
        ).where(chunk.final.is_(True))
        if cluster_id is not None:
            finals_of = finals_of.where(chunk.cluster_id == cluster_id)
        finals = finals_of.group_by(chunk.cluster_id, chunk.snapshot_id).subquery()
        received = func.max(chunk.received_at)
        statement = (
            select(finals.c.cluster_id, finals.c.snapshot_id, finals.c.last, received)
            .join(
                chunk,
                and_(
                    chunk.cluster_id == finals.c.cluster_id,
                    chunk.snapshot_id == finals.c.snapshot_id,
                    chunk.chunk.between(0, finals.c.last),
                ),
            )
            .group_by(finals.c.cluster_id, finals.c.snapshot_id, finals.c.last)
            # Chunk numbers are unique per snapshot: last+1 of them in 0..last means no gap
            # (written count-1 == last: last+1 would overflow an integer at the largest chunk).
            .having(func.count() - 1 == finals.c.last)
            .order_by(received, finals.c.cluster_id, finals.c.snapshot_id)
        )
        with self._reading_one_statement() as connection:
            return [
                ReadySnapshot(staged_for, snapshot_id, last + 1, received_at)
                for staged_for, snapshot_id, last, received_at in connection.execute(statement)
            ]

    def prune_staging(self, before: datetime) -> int:
        chunk = SnapshotChunkModel
        ready = {(r.cluster_id, r.snapshot_id) for r in self.ready_snapshots()}
        with self._writing() as connection:
            stale = [
                (cluster_id, snapshot_id)
                for cluster_id, snapshot_id in connection.execute(
                    select(chunk.cluster_id, chunk.snapshot_id)
                    .group_by(chunk.cluster_id, chunk.snapshot_id)
                    .having(func.max(chunk.received_at) < before)
                )
                if (cluster_id, snapshot_id) not in ready
            ]
            dropped = 0
            for cluster_id, snapshot_id in stale:
                dropped += connection.execute(
                    delete(chunk).where(
                        chunk.cluster_id == cluster_id, chunk.snapshot_id == snapshot_id
                    )
                ).rowcount
        return dropped

    # -- reading

    def query_resources(self, query: ResourceQuery) -> list[ResourceRow]:
        if not query.cluster_ids or query.limit <= 0:
            return []
        with self._reading_one_statement() as connection:
            result = connection.execute(*resource_query(query, self.dialect))
            return [rows.resource(row) for row in result]

    def get_resource(self, cluster_id: str, uid: str) -> ResourceRow | None:
        with self._reading_one_statement() as connection:
            row = connection.execute(
                select(ResourceModel.__table__).where(
                    ResourceModel.cluster_id == cluster_id, ResourceModel.uid == uid
                )
            ).first()
        return None if row is None else rows.resource(row)

    def resource_history(self, cluster_id: str, uid: str) -> list[ResourceVersion]:
        with self._reading_one_statement() as connection:
            result = connection.execute(
                select(ResourceVersionModel.__table__)
                .where(
                    ResourceVersionModel.cluster_id == cluster_id,
                    ResourceVersionModel.uid == uid,
                )
                .order_by(ResourceVersionModel.id)
            )
            return [rows.resource_version(row) for row in result]

    def count_resources(
        self, cluster_ids: Collection[str]
    ) -> dict[tuple[str, str, str | None], int]:
        if not cluster_ids:
            return {}
        resource = ResourceModel
        statement = (
            select(resource.cluster_id, resource.kind, resource.namespace, func.count())
            .where(resource.cluster_id.in_(list(cluster_ids)), resource.deleted_at.is_(None))
            .group_by(resource.cluster_id, resource.kind, resource.namespace)
        )
        with self._reading_one_statement() as connection:
            return {
                (cluster_id, kind, rows.namespace_out(namespace)): count
                for cluster_id, kind, namespace, count in connection.execute(statement)
            }

    def iter_records(
        self, cluster_ids: Collection[str], kinds: Collection[str]
    ) -> Iterator[ResourceRow]:
        if not cluster_ids or not kinds:
            return
        yield from self._stream_live(select(ResourceModel.__table__), cluster_ids, kinds)

    def iter_record_fields(
        self, cluster_ids: Collection[str], kinds: Collection[str], fields: Collection[str]
    ) -> Iterator[ResourceRow]:
        if self.dialect != "postgresql":
            # SQLite is the embedded, small case: cutting down whole records will do.
            yield from super().iter_record_fields(cluster_ids, kinds, fields)
            return
        if not cluster_ids or not kinds:
            return
        # The server sends only the wanted keys of each document (exactly those
        # present, JSON nulls kept), not the whole record.
        each = func.jsonb_each(ResourceModel.record).table_valued("key", "value")
        part = (
            select(func.coalesce(func.jsonb_object_agg(each.c.key, each.c.value), text("'{}'")))
            .where(each.c.key.in_(list(fields)))
            .scalar_subquery()
        )
        table = ResourceModel.__table__
        columns = [column for column in table.c if column.name != "record"]
        statement = select(*columns, part.label("record"))
        yield from self._stream_live(statement, cluster_ids, kinds)

    def _stream_live(
        self, statement: Select[Any], cluster_ids: Collection[str], kinds: Collection[str]
    ) -> Iterator[ResourceRow]:
        """Live resources of the kinds, in a stable order, read in batches."""
        resource = ResourceModel
        statement = statement.where(
            resource.cluster_id.in_(list(cluster_ids)),
            resource.kind.in_(list(kinds)),
            resource.deleted_at.is_(None),
        ).order_by(
            resource.kind, resource.namespace, resource.name, resource.cluster_id, resource.uid
        )
        with self._reading() as connection:
            result = connection.execution_options(yield_per=STREAM_BATCH).execute(statement)
            for row in result:
                yield rows.resource(row)

    def image_usage(
        self,
        cluster_ids: Collection[str],
        *,
        images_limit: int,
        where_limit: int,
        image_contains: str | None = None,
    ) -> tuple[list[ImageUse], bool]:
        if self.dialect != "postgresql" or not cluster_ids:
            return super().image_usage(
                cluster_ids,
                images_limit=images_limit,
                where_limit=where_limit,
                image_contains=image_contains,
            )
        with self._reading_one_statement() as connection:
            return images.image_usage(
                connection,
                cluster_ids,
                images_limit=images_limit,
                where_limit=where_limit,
                image_contains=image_contains,
            )

    def attention(
        self, cluster_ids: Collection[str], rules: AttentionRules, *, limit: int
    ) -> list[AttentionItem]:
        if self.dialect != "postgresql" or not cluster_ids:
            # SQLite is the embedded, small case: the rules in Python will do.
            return super().attention(cluster_ids, rules, limit=limit)
        with self._reading_one_statement() as connection:
            return attention_items(connection, cluster_ids, rules, limit)

    def prune_history(self, before: datetime) -> int:
        resource, version = ResourceModel, ResourceVersionModel
        newer = aliased(ResourceVersionModel)
        gone = select(resource.cluster_id, resource.uid).where(resource.deleted_at < before)
        with self._writing() as connection:
            deleted = connection.execute(
                delete(version).where(tuple_(version.cluster_id, version.uid).in_(gone))
            ).rowcount
            connection.execute(delete(resource).where(resource.deleted_at < before))
            deleted += connection.execute(
                delete(version).where(
                    version.changed_at < before,
                    # ...but never a resource's newest version.
                    exists().where(
                        newer.cluster_id == version.cluster_id,
                        newer.uid == version.uid,
                        newer.id > version.id,
                    ),
                )
            ).rowcount
        return int(deleted)
