"""Members, invitations and tokens: the rules the API and the CLI share.

Each function checks the policy's target rules (:mod:`reference_app.auth.policy`),
writes through the storage and says what happened; the callers turn
:class:`PolicyRefusal` into their own answers (an HTTP status, a CLI error).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from obsyk_core.people import Invitation, LastOwnerError
from obsyk_core.storage import ROLES, Membership, Role, Storage, User
from reference_app.auth.api_tokens import IssuedToken, issue_api_token
from reference_app.auth.policy import PolicyRefusal, check_grant, check_member_change

INVITATION_DAYS = 7


@dataclass(frozen=True, slots=True)
class IssuedInvitation:
    invitation: Invitation
    #: The local accept link (shown once), or None when WorkOS sent the invitation.
    accept_url: str | None


def _owner_count(storage: Storage, org_id: str) -> int:
    return sum(1 for membership, _ in storage.list_members(org_id) if membership.role == "owner")


def change_member(
    storage: Storage, org_id: str, caller_role: Role, user_id: str, role: Role | None
) -> Membership | None:
    """Set ``user_id``'s role in the org, or remove them (``role=None``).

    None when they are not a member; :class:`PolicyRefusal` 403 when the caller
    may not touch owners, 409 for the last owner.
    """
    current = storage.get_membership(org_id, user_id)
    if current is None:
        return None
    check_member_change(caller_role, current.role, role, _owner_count(storage, org_id))
    try:
        changed = storage.change_membership(org_id, user_id, role)
    except LastOwnerError as error:  # a concurrent change got there first
        raise PolicyRefusal(409, str(error)) from None
    if not changed:
        return None
    return Membership(org_id, user_id, role) if role is not None else current


def add_member(storage: Storage, org_id: str, email: str, role: Role) -> tuple[User, Membership]:
    """Make the person with ``email`` (created if new) a member; the CLI's bootstrap path."""
    user = storage.ensure_user(email)
    return user, storage.set_membership(org_id, user.id, role)


def invite(
    storage: Storage,
    org_id: str,
    email: str,
    role: Role,
    *,
    caller_role: Role,
    invited_by: str | None,
    public_url: str,
    workos_invitation_id: str | None = None,
) -> IssuedInvitation:
    """A pending invitation; with no WorkOS invitation, a local accept link carrying a secret."""
    check_grant(caller_role, role)
    now = datetime.now(UTC)
    secret = None if workos_invitation_id else secrets.token_urlsafe(32)
    invitation = storage.create_invitation(
        Invitation(
            id=uuid.uuid4().hex,
            org_id=org_id,
            email=email,
            role=role,
            invited_by=invited_by,
            created_at=now,
            expires_at=now + timedelta(days=INVITATION_DAYS),
            token_hash=hashlib.sha256(secret.encode()).hexdigest() if secret else None,
            workos_invitation_id=workos_invitation_id,
        )
    )
    accept_url = f"{public_url}/auth/login?invitation={secret}" if secret else None
    return IssuedInvitation(invitation, accept_url)


def accept_invitations(storage: Storage, user: User) -> list[Invitation]:
    """Accept every pending, unexpired invitation to ``user``'s email: they become members.

    An invitation never lowers a role the user already has in that org.
    """
    now = datetime.now(UTC)
    accepted = []
    for invitation in storage.list_invitations(email=user.email):
        if invitation.expires_at <= now:
            continue
        if not storage.close_invitation(invitation.id, accepted_at=now):
            continue  # accepted or revoked meanwhile
        current = storage.get_membership(invitation.org_id, user.id)
        if current is None or _rank(current.role) < _rank(invitation.role):
            storage.set_membership(invitation.org_id, user.id, invitation.role)
        accepted.append(invitation)
    return accepted


def _rank(role: Role) -> int:
    return ROLES.index(role)


def create_token(
    storage: Storage, org_id: str, user_id: str, name: str, expires_in_days: int | None
) -> IssuedToken:
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    return issue_api_token(storage, org_id, user_id, name=name, expires_at=expires_at)
