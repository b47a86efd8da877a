"""The people part of the storage interface: accounts, sign-in sessions, invitations, audit.

:class:`~obsyk_core.storage.Storage` inherits :class:`PeopleStore`; it is a
module of its own so the inventory interface stays readable.  The rules
(who may change whom, what a session's timeouts are) live in the app; a
backend only keeps rows, with two exceptions that need one transaction to be
right under concurrency: :meth:`PeopleStore.change_membership` never leaves an
org without an owner, and :meth:`PeopleStore.close_invitation` closes an
invitation at most once.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from obsyk_core.storage import ApiToken, Membership, Organization, Role, User


class LastOwnerError(ValueError):
    """The change would leave the organization without an owner."""


@dataclass(frozen=True, slots=True)
class SignInSession:
    """A browser session; only a hash of its cookie value is ever stored."""

    id_hash: str
    user_id: str
    #: The org the user currently acts in (switchable among their memberships).
    org_id: str
    created_at: datetime
    last_seen_at: datetime
    #: The absolute end, whatever the activity.
    expires_at: datetime
    #: The identity provider's refresh token, encrypted by the app (never plain text).
    refresh_token: bytes | None = None
    #: When the identity provider's access token runs out (then the app refreshes it).
    access_expires_at: datetime | None = None
    #: The identity provider's own session id (WorkOS ``sid``), to revoke it on sign-out.
    provider_session_id: str | None = None


@dataclass(frozen=True, slots=True)
class Invitation:
    id: str
    org_id: str
    email: str
    role: Role
    invited_by: str | None
    created_at: datetime
    expires_at: datetime
    #: SHA-256 of the secret of a local accept link (``None`` when WorkOS sends it).
    token_hash: str | None = None
    workos_invitation_id: str | None = None
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def state(self) -> Literal["pending", "accepted", "revoked"]:
        if self.accepted_at is not None:
            return "accepted"
        return "revoked" if self.revoked_at is not None else "pending"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what to what, in which org, from where."""

    id: str
    org_id: str
    at: datetime
    #: ``user``, ``token`` (a person through an API token) or ``system``.
    actor_type: str
    actor_id: str | None
    actor_email: str | None
    action: str
    target_type: str | None
    target_id: str | None
    details: Mapping[str, Any] = field(default_factory=dict)
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """An org's audit entries, newest first; ``before_id`` continues after the last one seen."""

    org_id: str
    actor_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: tuple[datetime, str] | None = None
    limit: int = 100


class PeopleStore(abc.ABC):
    """Accounts and what hangs off them.  Each method is its own transaction."""

    # -- organizations and users
    @abc.abstractmethod
    def update_org(self, org_id: str, *, name: str | None = None) -> Organization | None:
        """Rename an org; :class:`ConflictError` when the name is taken, None when no such org."""

    @abc.abstractmethod
    def link_org(self, org_id: str, workos_org_id: str | None) -> Organization | None:
        """Link the org to one WorkOS organization (None unlinks); ConflictError when linked
        to another org already."""

    @abc.abstractmethod
    def find_org_by_workos_id(self, workos_org_id: str) -> Organization | None: ...

    @abc.abstractmethod
    def delete_org(self, org_id: str) -> bool:
        """Remove an org with everything in it: clusters (with their inventory, history,
        credentials and staging), memberships, API tokens, sessions, invitations, audit log.

        Users stay (they may belong to other orgs).  False when there is no such org.
        """

    @abc.abstractmethod
    def update_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        workos_user_id: str | None = None,
    ) -> User | None:
        """Set the given fields (None leaves one as it is); ConflictError on a taken email or id."""

    @abc.abstractmethod
    def find_user(
        self, *, email: str | None = None, workos_user_id: str | None = None
    ) -> User | None:
        """By email (case-insensitive) or by WorkOS user id."""

    # -- memberships
    @abc.abstractmethod
    def list_members(self, org_id: str) -> list[tuple[Membership, User]]:
        """The org's members by email."""

    @abc.abstractmethod
    def list_user_orgs(self, user_id: str) -> list[tuple[Membership, Organization]]:
        """The orgs a user belongs to, by name."""

    @abc.abstractmethod
    def change_membership(self, org_id: str, user_id: str, role: Role | None) -> bool:
        """Set a member's role, or remove them (``role=None``) with their API tokens of the org
        and their sessions in it.

        False when they are not a member.  Raises :class:`LastOwnerError`,
        changing nothing, when the org would be left without an owner; the check
        and the change are one transaction, so two concurrent demotions of the
        last two owners cannot both pass.
        """

    # -- API tokens
    @abc.abstractmethod
    def list_api_tokens(self, org_id: str, user_id: str | None = None) -> list[ApiToken]:
        """The org's unrevoked tokens (one user's when given), newest first."""

    @abc.abstractmethod
    def get_api_token(self, token_id: str) -> ApiToken | None:
        """A token by id, revoked ones included."""

    # -- sign-in sessions
    @abc.abstractmethod
    def create_session(self, session: SignInSession) -> SignInSession: ...

    @abc.abstractmethod
    def get_session(self, id_hash: str) -> SignInSession | None: ...

    def authenticate_session(self, id_hash: str) -> tuple[SignInSession, Role | None] | None:
        """The session and its user's current role in the session's org (None: not a member).

        Read on every browser request, never cached (a role change counts at
        once).  This default composes :meth:`get_session` and ``get_membership``;
        backends that can should answer in one round trip (the SQL backend joins).
        """
        session = self.get_session(id_hash)
        if session is None:
            return None
        membership = self.get_membership(session.org_id, session.user_id)  # type: ignore[attr-defined]
        return session, None if membership is None else membership.role

    @abc.abstractmethod
    def update_session(self, id_hash: str, **changes: Any) -> bool:
        """Set fields of a session (``last_seen_at``, ``org_id``, ``refresh_token``...)."""

    @abc.abstractmethod
    def delete_session(self, id_hash: str) -> bool: ...

    @abc.abstractmethod
    def prune_sessions(self, idle_before: datetime, now: datetime) -> int:
        """Delete sessions idle since before ``idle_before`` or past their absolute end."""

    # -- invitations
    @abc.abstractmethod
    def create_invitation(self, invitation: Invitation) -> Invitation: ...

    @abc.abstractmethod
    def get_invitation(self, invitation_id: str) -> Invitation | None: ...

    @abc.abstractmethod
    def find_invitation_by_token(self, token_hash: str) -> Invitation | None: ...

    @abc.abstractmethod
    def list_invitations(
        self, *, org_id: str | None = None, email: str | None = None
    ) -> list[Invitation]:
        """Pending invitations of an org, or for an email (case-insensitive), oldest first."""

    @abc.abstractmethod
    def close_invitation(
        self, invitation_id: str, *, accepted_at: datetime | None = None,
        revoked_at: datetime | None = None,
    ) -> bool:  # fmt: skip
        """Mark a pending invitation accepted or revoked; False when it was not pending."""

    # -- audit log
    @abc.abstractmethod
    def append_audit(self, entry: AuditEntry) -> None: ...

    @abc.abstractmethod
    def list_audit(self, query: AuditQuery) -> list[AuditEntry]:
        """Entries matching the query, newest first (by ``at``, then ``id``)."""
