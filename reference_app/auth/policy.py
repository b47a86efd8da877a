"""The authorization policy: which role may do what, in one table.

Every ``/api/v1`` route for people declares one :class:`Permission` with
:func:`reference_app.auth.guards.requires`; the decorator authenticates the
caller and looks the permission up here before the view runs.  Roles are
cumulative (each one has everything the one below has); the table spells the
sets out anyway so a reader sees them without doing the arithmetic.

Rules that depend on the *target* of an action and not only on the caller's
role (an admin may not touch owners, the last owner stays) live here too, as
functions the member views call, so the whole policy is in one file.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from obsyk_core.storage import ROLES, Role


class Permission(enum.StrEnum):
    #: The agent endpoints: an operator's access token (``/oauth/token``), never a person.
    INGEST = "agent:ingest"
    #: Clusters, resources, history, summary, kinds; one's own profile (``/me``).
    READ_INVENTORY = "inventory:read"
    #: Create, list and revoke one's own personal API tokens.
    MANAGE_OWN_TOKENS = "tokens:own"
    #: Register, rotate, revoke and delete clusters and operator credentials.
    MANAGE_CLUSTERS = "clusters:manage"
    #: Invite people and change or remove members below owner; list and revoke any token.
    MANAGE_MEMBERS = "members:manage"
    READ_AUDIT = "audit:read"
    #: Make, unmake and remove owners.
    MANAGE_OWNERS = "owners:manage"
    #: Rename the org, link it to a WorkOS organization.
    MANAGE_ORG = "org:manage"
    DELETE_ORG = "org:delete"


_VIEWER = frozenset({Permission.READ_INVENTORY})
_MEMBER = _VIEWER | {Permission.MANAGE_OWN_TOKENS}
_ADMIN = _MEMBER | {Permission.MANAGE_CLUSTERS, Permission.MANAGE_MEMBERS, Permission.READ_AUDIT}
_OWNER = _ADMIN | {Permission.MANAGE_OWNERS, Permission.MANAGE_ORG, Permission.DELETE_ORG}

#: The policy.  docs/reference/permissions.md shows this table; a test keeps them equal.
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    "viewer": _VIEWER,
    "member": _MEMBER,
    "admin": _ADMIN,
    "owner": _OWNER,
}


#: What an operator credential may do; no role has it, no operator has anything else.
OPERATOR_PERMISSIONS = frozenset({Permission.INGEST})


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def weakest_role_with(permission: Permission) -> Role:
    """The lowest role holding ``permission`` (for "this needs the admin role" messages)."""
    return next(role for role in ROLES if allows(role, permission))


class PolicyRefusal(Exception):
    """A rule about the target of a member change was broken; ``status`` is 403 or 409."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_member_change(
    caller_role: Role, current_role: Role, new_role: Role | None, owner_count: int
) -> None:
    """May a caller with ``caller_role`` change a member from ``current_role`` to ``new_role``?

    ``new_role=None`` means removal.  Raises :class:`PolicyRefusal`: 403 when an
    admin touches an owner or makes one (only owners manage owners), 409 when the
    change would leave the org without an owner.
    """
    touches_owner = current_role == "owner" or new_role == "owner"
    if touches_owner and not allows(caller_role, Permission.MANAGE_OWNERS):
        raise PolicyRefusal(403, "Only an owner can make, change or remove an owner.")
    leaves_owner = current_role == "owner" and new_role != "owner"
    if leaves_owner and owner_count <= 1:
        raise PolicyRefusal(
            409, "This is the organization's last owner: make someone else owner first."
        )


def check_grant(caller_role: Role, role: Role) -> None:
    """May a caller with ``caller_role`` invite someone as ``role``? (403 when not.)"""
    if role == "owner" and not allows(caller_role, Permission.MANAGE_OWNERS):
        raise PolicyRefusal(403, "Only an owner can invite an owner.")
