"""The schema, as SQLAlchemy 2 typed models.

The Alembic migrations in ``migrations/versions`` must produce exactly this
(a test compares them).  Conventions:

* ``namespace`` is ``''`` for cluster-scoped resources so it can sit in
  indexes and row-value comparisons; the backend maps it to ``None``.
* Sortable text columns use the ``C`` collation on PostgreSQL, so listings
  are ordered by code point, like Python and SQLite, and ``LIKE 'prefix%'``
  can use the indexes.
* Timestamps are stored in UTC; SQLite keeps them naive, :class:`UTCDateTime`
  hands them back aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: storage takes timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")
#: The same, but a Python ``None`` is SQL ``NULL`` (not the JSON ``null``).
NullableJSONDocument = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
#: Text compared and sorted by code point on every database.
SortableText = Text().with_variant(Text(collation="C"), "postgresql")
#: Cluster ids appear in the sort key, so they sort by code point too.
ClusterId = String(36).with_variant(String(36, collation="C"), "postgresql")
#: History ids: BIGINT on PostgreSQL, the rowid alias INTEGER on SQLite.
VersionId = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CASCADE = "CASCADE"

#: Indexes that only exist on PostgreSQL (what SQLite could not use anyway).
POSTGRESQL_ONLY_INDEXES = frozenset({"ix_resources_labels"})


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDocument,
        dict[str, str]: JSONDocument,
        str: Text(),
    }


class OrganizationModel(Base):
    __tablename__ = "organizations"
    # Unique indexes, not constraints: migration 0004 adds them to existing tables.
    __table_args__ = (Index("ix_organizations_workos_org_id", "workos_org_id", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[datetime]
    workos_org_id: Mapped[str | None]


class UserModel(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_workos_user_id", "workos_user_id", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str]
    #: The email lower-cased: what makes "Ann@X.io" and "ann@x.io" one user.
    email_key: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[datetime]
    name: Mapped[str | None]
    workos_user_id: Mapped[str | None]


class MembershipModel(Base):
    __tablename__ = "memberships"

    org_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("organizations.id", ondelete=CASCADE), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete=CASCADE), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))


class ApiTokenModel(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("organizations.id", ondelete=CASCADE), index=True
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete=CASCADE), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class ClusterModel(Base):
    __tablename__ = "clusters"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(ClusterId, primary_key=True)
    org_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("organizations.id", ondelete=CASCADE)
    )
    name: Mapped[str] = mapped_column(SortableText)
    created_at: Mapped[datetime]
    cluster_uid: Mapped[str | None]
    last_heartbeat_at: Mapped[datetime | None]
    last_snapshot_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    agent_version: Mapped[str | None]
    kubernetes_version: Mapped[str | None]


class CredentialModel(Base):
    __tablename__ = "credentials"

    client_id: Mapped[str] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("organizations.id", ondelete=CASCADE)
    )
    cluster_id: Mapped[str] = mapped_column(
        ClusterId, ForeignKey("clusters.id", ondelete=CASCADE), index=True
    )
    public_key_pem: Mapped[str]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ResourceModel(Base):
    """The live inventory (tombstoned rows included): one row per (cluster, uid)."""

    __tablename__ = "resources"
    __table_args__ = (
        # Listing one cluster by kind/namespace, in sort-key order.
        Index("ix_resources_listing", "cluster_id", "kind", "namespace", "name", "uid"),
        # Label selectors (@>, ?) on PostgreSQL; SQLite filters the listing rows.
        Index("ix_resources_labels", "labels", postgresql_using="gin").ddl_if(dialect="postgresql"),
    )

    cluster_id: Mapped[str] = mapped_column(
        ClusterId,
        ForeignKey("clusters.id", ondelete=CASCADE),
        primary_key=True,
    )
    uid: Mapped[str] = mapped_column(SortableText, primary_key=True)
    kind: Mapped[str] = mapped_column(SortableText)
    namespace: Mapped[str] = mapped_column(SortableText)
    name: Mapped[str] = mapped_column(SortableText)
    labels: Mapped[dict[str, str]]
    annotations: Mapped[dict[str, str]]
    record: Mapped[dict[str, Any]]
    content_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
    resource_version: Mapped[int | None] = mapped_column(BigInteger)
    observed_at: Mapped[datetime]


#: The columns of ``resources`` in table order: what a listing selects, what the
#: backend's writes name (derived here once, never spelled out elsewhere).
RESOURCE_COLUMNS: tuple[str, ...] = tuple(column.name for column in ResourceModel.__table__.c)


class ResourceVersionModel(Base):
    """History: one row per real change, in the order the changes were applied (``id``)."""

    __tablename__ = "resource_versions"
    __table_args__ = (
        Index("ix_resource_versions_timeline", "cluster_id", "uid", "id"),
        Index("ix_resource_versions_changed_at", "changed_at"),
    )

    id: Mapped[int] = mapped_column(VersionId, primary_key=True, autoincrement=True)
    cluster_id: Mapped[str] = mapped_column(
        ClusterId,
        ForeignKey("clusters.id", ondelete=CASCADE),
    )
    uid: Mapped[str] = mapped_column(SortableText)
    kind: Mapped[str] = mapped_column(SortableText)
    namespace: Mapped[str] = mapped_column(SortableText)
    name: Mapped[str] = mapped_column(SortableText)
    change: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    #: ``NULL`` for a deletion.
    record: Mapped[dict[str, Any] | None] = mapped_column(NullableJSONDocument)
    changed_at: Mapped[datetime]


#: Those of ``resource_versions`` but its generated ``id``, in table order.
VERSION_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in ResourceVersionModel.__table__.c if column.name != "id"
)


class SnapshotChunkModel(Base):
    """Chunks of a snapshot still being received, kept until the final one is applied."""

    __tablename__ = "snapshot_chunks"

    cluster_id: Mapped[str] = mapped_column(
        ClusterId, ForeignKey("clusters.id", ondelete=CASCADE), primary_key=True
    )
    snapshot_id: Mapped[str] = mapped_column(primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)
    final: Mapped[bool] = mapped_column(Boolean)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]


class SignInSessionModel(Base):
    """Browser sessions: the cookie's SHA-256, never the cookie itself."""

    __tablename__ = "sign_in_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete=CASCADE), index=True
    )
    org_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("organizations.id", ondelete=CASCADE)
    )
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    #: Encrypted by the app (MultiFernet under OBSYK_SECRET_KEYS).
    refresh_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_expires_at: Mapped[datetime | None]
    provider_session_id: Mapped[str | None]


class InvitationModel(Base):
    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("organizations.id", ondelete=CASCADE), index=True
    )
    email: Mapped[str]
    email_key: Mapped[str] = mapped_column(index=True)
    role: Mapped[str] = mapped_column(String(16))
    invited_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    workos_invitation_id: Mapped[str | None]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditEntryModel(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_timeline", "org_id", "at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("organizations.id", ondelete=CASCADE)
    )
    at: Mapped[datetime]
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    actor_email: Mapped[str | None]
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None]
    #: Plain JSON (text on PostgreSQL too): written once, read whole, never searched.
    details: Mapped[dict[str, Any]] = mapped_column(JSON())
    ip: Mapped[str | None] = mapped_column(String(64))
