"""Database rows <-> the storage interface's dataclasses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from obsyk_core.storage import (
    ApiToken,
    ChangeType,
    Cluster,
    Credential,
    Organization,
    ResourceRow,
    ResourceVersion,
    StagedChunk,
    StoredState,
    User,
)


def namespace_in(namespace: str | None) -> str:
    """Cluster-scoped resources are stored with namespace ``''``."""
    return namespace or ""


def namespace_out(namespace: str) -> str | None:
    return namespace or None


def identity(item: ResourceRow | ResourceVersion) -> tuple[str, str, str, str, str]:
    """The leading columns of both tables: cluster id, uid, kind, namespace, name."""
    return item.cluster_id, item.uid, item.kind, namespace_in(item.namespace), item.name


def organization(row: Row[Any]) -> Organization:
    return Organization(
        id=row.id, name=row.name, created_at=row.created_at, workos_org_id=row.workos_org_id
    )


def user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        email=row.email,
        created_at=row.created_at,
        name=row.name,
        workos_user_id=row.workos_user_id,
    )


def api_token(row: Row[Any]) -> ApiToken:
    return ApiToken(
        id=row.id,
        org_id=row.org_id,
        user_id=row.user_id,
        token_hash=row.token_hash,
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
    )


def cluster(row: Row[Any]) -> Cluster:
    return Cluster(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        created_at=row.created_at,
        cluster_uid=row.cluster_uid,
        last_heartbeat_at=row.last_heartbeat_at,
        last_snapshot_at=row.last_snapshot_at,
        last_seen_at=row.last_seen_at,
        agent_version=row.agent_version,
        kubernetes_version=row.kubernetes_version,
    )


def credential(row: Row[Any]) -> Credential:
    return Credential(
        client_id=row.client_id,
        org_id=row.org_id,
        cluster_id=row.cluster_id,
        public_key_pem=row.public_key_pem,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def resource(row: Row[Any]) -> ResourceRow:
    return ResourceRow(
        cluster_id=row.cluster_id,
        uid=row.uid,
        kind=row.kind,
        namespace=namespace_out(row.namespace),
        name=row.name,
        labels=row.labels or {},
        annotations=row.annotations or {},
        record=row.record or {},
        content_hash=row.content_hash,
        first_seen_at=row.first_seen_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
        resource_version=row.resource_version,
        observed_at=row.observed_at,
    )


def resource_version(row: Row[Any]) -> ResourceVersion:
    return ResourceVersion(
        cluster_id=row.cluster_id,
        uid=row.uid,
        kind=row.kind,
        namespace=namespace_out(row.namespace),
        name=row.name,
        change=ChangeType(row.change),
        content_hash=row.content_hash,
        record=row.record,
        changed_at=row.changed_at,
    )


def stored_state(row: Any) -> StoredState:
    """From ``(uid, kind, namespace, name, content_hash, resource_version, observed_at,
    deleted_at)``, a SQLAlchemy row or a plain psycopg tuple."""
    uid, kind, namespace, name, digest, resource_version_, observed_at, deleted_at = row
    return StoredState(
        uid=uid,
        kind=kind,
        namespace=namespace_out(namespace),
        name=name,
        content_hash=digest,
        resource_version=resource_version_,
        observed_at=observed_at,
        deleted_at=deleted_at,
    )


def staged_chunk(row: Row[Any]) -> StagedChunk:
    return StagedChunk(
        snapshot_id=row.snapshot_id,
        chunk=row.chunk,
        final=row.final,
        payload=bytes(row.payload),
        received_at=row.received_at,
    )
