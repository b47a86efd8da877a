"""The people part of the SQL storage (:class:`~obsyk_core.people.PeopleStore`).

A mixin of :class:`~obsyk_plugins.sql_storage.backend.SqlStorage`, which
provides the connection helpers declared at the top of :class:`SqlPeople`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, delete, insert, or_, select, update
from sqlalchemy import exc as sa_exc

from obsyk_core.people import (
    AuditEntry,
    AuditQuery,
    Invitation,
    LastOwnerError,
    PeopleStore,
    SignInSession,
)
from obsyk_core.storage import ApiToken, ConflictError, Membership, Organization, Role, User
from obsyk_plugins.sql_storage import rows
from obsyk_plugins.sql_storage.models import (
    ApiTokenModel,
    AuditEntryModel,
    InvitationModel,
    MembershipModel,
    OrganizationModel,
    SignInSessionModel,
    UserModel,
)

_SESSION_FIELDS = frozenset(field.name for field in dataclasses.fields(SignInSession))


def _session(row: Any) -> SignInSession:
    return SignInSession(**{name: getattr(row, name) for name in _SESSION_FIELDS})


def _invitation(row: Any) -> Invitation:
    return Invitation(
        id=row.id,
        org_id=row.org_id,
        email=row.email,
        role=cast(Role, row.role),
        invited_by=row.invited_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        token_hash=row.token_hash,
        workos_invitation_id=row.workos_invitation_id,
        accepted_at=row.accepted_at,
        revoked_at=row.revoked_at,
    )


def _audit(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        org_id=row.org_id,
        at=row.at,
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        actor_email=row.actor_email,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        details=row.details,
        ip=row.ip,
    )


class SqlPeople(PeopleStore):
    dialect: str

    # Provided by SqlStorage.
    def _reading(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _writing(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _reading_one_statement(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    # -- organizations and users

    def _one_org(self, connection: Connection, org_id: str) -> Organization | None:
        row = connection.execute(
            select(OrganizationModel.__table__).where(OrganizationModel.id == org_id)
        ).first()
        return None if row is None else rows.organization(row)

    def update_org(self, org_id: str, *, name: str | None = None) -> Organization | None:
        try:
            with self._writing() as connection:
                if name is not None:
                    connection.execute(
                        update(OrganizationModel)
                        .where(OrganizationModel.id == org_id)
                        .values(name=name)
                    )
                return self._one_org(connection, org_id)
        except sa_exc.IntegrityError:
            raise ConflictError(f"organization name {name!r} is already taken") from None

    def link_org(self, org_id: str, workos_org_id: str | None) -> Organization | None:
        try:
            with self._writing() as connection:
                connection.execute(
                    update(OrganizationModel)
                    .where(OrganizationModel.id == org_id)
                    .values(workos_org_id=workos_org_id)
                )
                return self._one_org(connection, org_id)
        except sa_exc.IntegrityError:
            raise ConflictError(
                f"WorkOS organization {workos_org_id!r} is linked already"
            ) from None

    def find_org_by_workos_id(self, workos_org_id: str) -> Organization | None:
        with self._reading() as connection:
            row = connection.execute(
                select(OrganizationModel.__table__).where(
                    OrganizationModel.workos_org_id == workos_org_id
                )
            ).first()
        return None if row is None else rows.organization(row)

    def delete_org(self, org_id: str) -> bool:
        # Every table of an org's data references it ON DELETE CASCADE.
        with self._writing() as connection:
            result = connection.execute(
                delete(OrganizationModel).where(OrganizationModel.id == org_id)
            )
        return bool(result.rowcount)

    def update_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        workos_user_id: str | None = None,
    ) -> User | None:
        values: dict[str, Any] = {}
        if email is not None:
            values.update(email=email, email_key=email.casefold())
        if name is not None:
            values["name"] = name
        if workos_user_id is not None:
            values["workos_user_id"] = workos_user_id
        try:
            with self._writing() as connection:
                if values:
                    connection.execute(
                        update(UserModel).where(UserModel.id == user_id).values(**values)
                    )
                row = connection.execute(
                    select(UserModel.__table__).where(UserModel.id == user_id)
                ).first()
        except sa_exc.IntegrityError:
            raise ConflictError("another user has this email or WorkOS id") from None
        return None if row is None else rows.user(row)

    def find_user(
        self, *, email: str | None = None, workos_user_id: str | None = None
    ) -> User | None:
        if email is not None:
            condition = UserModel.email_key == email.casefold()
        elif workos_user_id is not None:
            condition = UserModel.workos_user_id == workos_user_id
        else:
            return None
        with self._reading() as connection:
            row = connection.execute(select(UserModel.__table__).where(condition)).first()
        return None if row is None else rows.user(row)

    # -- memberships

    def list_members(self, org_id: str) -> list[tuple[Membership, User]]:
        statement = (
            select(UserModel.__table__, MembershipModel.role)
            .join(MembershipModel, MembershipModel.user_id == UserModel.id)
            .where(MembershipModel.org_id == org_id)
            .order_by(UserModel.email_key, UserModel.id)
        )
        with self._reading() as connection:
            return [
                (Membership(org_id, row.id, cast(Role, row.role)), rows.user(row))
                for row in connection.execute(statement)
            ]

    def list_user_orgs(self, user_id: str) -> list[tuple[Membership, Organization]]:
        statement = (
            select(OrganizationModel.__table__, MembershipModel.role)
            .join(MembershipModel, MembershipModel.org_id == OrganizationModel.id)
            .where(MembershipModel.user_id == user_id)
            .order_by(OrganizationModel.name, OrganizationModel.id)
        )
        with self._reading() as connection:
            return [
                (Membership(row.id, user_id, cast(Role, row.role)), rows.organization(row))
                for row in connection.execute(statement)
            ]

    def change_membership(self, org_id: str, user_id: str, role: Role | None) -> bool:
        with self._writing() as connection:
            # The org's owner rows, locked (PostgreSQL; SQLite's write lock is the whole
            # database): a concurrent demotion waits, then counts what this one left.
            owners_query = select(MembershipModel.user_id).where(
                MembershipModel.org_id == org_id, MembershipModel.role == "owner"
            )
            if self.dialect == "postgresql":
                owners_query = owners_query.with_for_update()
            owners = set(connection.execute(owners_query).scalars())
            current = connection.execute(
                select(MembershipModel.role).where(
                    MembershipModel.org_id == org_id, MembershipModel.user_id == user_id
                )
            ).scalar()
            if current is None:
                return False
            if current == "owner" and role != "owner" and owners <= {user_id}:
                raise LastOwnerError("the organization's last owner cannot leave or be demoted")
            member = (MembershipModel.org_id == org_id) & (MembershipModel.user_id == user_id)
            if role is not None:
                connection.execute(update(MembershipModel).where(member).values(role=role))
                return True
            connection.execute(delete(MembershipModel).where(member))
            connection.execute(
                update(ApiTokenModel)
                .where(
                    ApiTokenModel.org_id == org_id,
                    ApiTokenModel.user_id == user_id,
                    ApiTokenModel.revoked_at.is_(None),
                )
                .values(revoked_at=datetime.now(UTC))
            )
            connection.execute(
                delete(SignInSessionModel).where(
                    SignInSessionModel.org_id == org_id, SignInSessionModel.user_id == user_id
                )
            )
            return True

    # -- API tokens

    def list_api_tokens(self, org_id: str, user_id: str | None = None) -> list[ApiToken]:
        statement = (
            select(ApiTokenModel.__table__)
            .where(ApiTokenModel.org_id == org_id, ApiTokenModel.revoked_at.is_(None))
            .order_by(ApiTokenModel.created_at.desc(), ApiTokenModel.id.desc())
        )
        if user_id is not None:
            statement = statement.where(ApiTokenModel.user_id == user_id)
        with self._reading() as connection:
            return [rows.api_token(row) for row in connection.execute(statement)]

    def get_api_token(self, token_id: str) -> ApiToken | None:
        with self._reading() as connection:
            row = connection.execute(
                select(ApiTokenModel.__table__).where(ApiTokenModel.id == token_id)
            ).first()
        return None if row is None else rows.api_token(row)

    # -- sign-in sessions

    def create_session(self, session: SignInSession) -> SignInSession:
        with self._writing() as connection:
            connection.execute(insert(SignInSessionModel).values(**dataclasses.asdict(session)))
        return session

    def get_session(self, id_hash: str) -> SignInSession | None:
        with self._reading() as connection:
            row = connection.execute(
                select(SignInSessionModel.__table__).where(SignInSessionModel.id_hash == id_hash)
            ).first()
        return None if row is None else _session(row)

    def authenticate_session(self, id_hash: str) -> tuple[SignInSession, Role | None] | None:
        statement = (
            select(SignInSessionModel.__table__, MembershipModel.role)
            .outerjoin(
                MembershipModel,
                (MembershipModel.org_id == SignInSessionModel.org_id)
                & (MembershipModel.user_id == SignInSessionModel.user_id),
            )
            .where(SignInSessionModel.id_hash == id_hash)
        )
        # Every browser request: one statement, one round trip.
        with self._reading_one_statement() as connection:
            row = connection.execute(statement).first()
        return None if row is None else (_session(row), cast(Role | None, row.role))

    def update_session(self, id_hash: str, **changes: Any) -> bool:
        unknown = set(changes) - _SESSION_FIELDS
        if unknown:
            raise TypeError(f"sessions have no fields {sorted(unknown)}")
        with self._writing() as connection:
            result = connection.execute(
                update(SignInSessionModel)
                .where(SignInSessionModel.id_hash == id_hash)
                .values(**changes)
            )
        return bool(result.rowcount)

    def delete_session(self, id_hash: str) -> bool:
        with self._writing() as connection:
            result = connection.execute(
                delete(SignInSessionModel).where(SignInSessionModel.id_hash == id_hash)
            )
        return bool(result.rowcount)

    def prune_sessions(self, idle_before: datetime, now: datetime) -> int:
        with self._writing() as connection:
            result = connection.execute(
                delete(SignInSessionModel).where(
                    or_(
                        SignInSessionModel.last_seen_at < idle_before,
                        SignInSessionModel.expires_at <= now,
                    )
                )
            )
        return int(result.rowcount)

    # -- invitations

    def create_invitation(self, invitation: Invitation) -> Invitation:
        values = dataclasses.asdict(invitation)
        values["email_key"] = invitation.email.casefold()
        with self._writing() as connection:
            connection.execute(insert(InvitationModel).values(**values))
        return invitation

    def _invitations(self, *conditions: Any) -> Iterator[Invitation]:
        statement = (
            select(InvitationModel.__table__)
            .where(*conditions)
            .order_by(InvitationModel.created_at, InvitationModel.id)
        )
        with self._reading() as connection:
            found = [_invitation(row) for row in connection.execute(statement)]
        return iter(found)

    def get_invitation(self, invitation_id: str) -> Invitation | None:
        return next(self._invitations(InvitationModel.id == invitation_id), None)

    def find_invitation_by_token(self, token_hash: str) -> Invitation | None:
        return next(self._invitations(InvitationModel.token_hash == token_hash), None)

    def list_invitations(
        self, *, org_id: str | None = None, email: str | None = None
    ) -> list[Invitation]:
        conditions: list[ColumnElement[bool]] = [
            InvitationModel.accepted_at.is_(None),
            InvitationModel.revoked_at.is_(None),
        ]
        if org_id is not None:
            conditions.append(InvitationModel.org_id == org_id)
        if email is not None:
            conditions.append(InvitationModel.email_key == email.casefold())
        return list(self._invitations(*conditions))

    def close_invitation(
        self,
        invitation_id: str,
        *,
        accepted_at: datetime | None = None,
        revoked_at: datetime | None = None,
    ) -> bool:
        with self._writing() as connection:
            result = connection.execute(
                update(InvitationModel)
                .where(
                    InvitationModel.id == invitation_id,
                    InvitationModel.accepted_at.is_(None),
                    InvitationModel.revoked_at.is_(None),
                )
                .values(accepted_at=accepted_at, revoked_at=revoked_at)
            )
        return bool(result.rowcount)

    # -- audit log

    def append_audit(self, entry: AuditEntry) -> None:
        values = dataclasses.asdict(entry)
        values["details"] = dict(entry.details)
        with self._writing() as connection:
            connection.execute(insert(AuditEntryModel).values(**values))

    def list_audit(self, query: AuditQuery) -> list[AuditEntry]:
        model = AuditEntryModel
        statement = select(model.__table__).where(model.org_id == query.org_id)
        if query.actor_id is not None:
            statement = statement.where(model.actor_id == query.actor_id)
        if query.action is not None:
            statement = statement.where(model.action == query.action)
        if query.since is not None:
            statement = statement.where(model.at >= query.since)
        if query.until is not None:
            statement = statement.where(model.at < query.until)
        if query.before is not None:
            at, entry_id = query.before
            statement = statement.where(
                or_(model.at < at, (model.at == at) & (model.id < entry_id))
            )
        statement = statement.order_by(model.at.desc(), model.id.desc()).limit(query.limit)
        with self._reading() as connection:
            return [_audit(row) for row in connection.execute(statement)]
