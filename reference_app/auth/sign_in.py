"""From an identity the provider vouched for to a user acting in one org with one role.

The order (issue 9, item 3): accepted invitations and existing memberships
first; else a WorkOS organization linked to an org makes the person a member
with their WorkOS role (``admin`` -> admin, anything else -> member; ``owner``
is only ever given locally); else ``OBSYK_SIGNUP=open`` makes them the owner
of a new org, and ``invite`` (the default) refuses them, creating nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from obsyk_core.identity import Identity
from obsyk_core.storage import ConflictError, Organization, Role, Storage, User
from reference_app.auth.membership import accept_invitations


class NotInvited(Exception):
    """Nobody invited this person and no linked org admits them (``OBSYK_SIGNUP=invite``)."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    org_id: str
    #: Orgs joined by this sign-in (invitations accepted, a linked org, a new org).
    joined: tuple[tuple[str, Role], ...] = ()


def _workos_role(role: str | None) -> Role:
    return "admin" if role == "admin" else "member"


def resolve_sign_in(
    storage: Storage, identity: Identity, *, signup: str, preferred_org: str | None = None
) -> SignedIn:
    """The user (created or linked) and the org they act in; :class:`NotInvited` when refused."""
    user = _known_user(storage, identity)
    invited = storage.list_invitations(email=identity.email)
    linked = (
        storage.find_org_by_workos_id(identity.provider_org_id)
        if identity.provider_org_id
        else None
    )
    has_orgs = user is not None and bool(storage.list_user_orgs(user.id))
    if not (has_orgs or invited or linked or signup == "open"):
        raise NotInvited(identity.email)
    if user is None:
        user = storage.ensure_user(identity.email)
    user = _updated(storage, user, identity)
    joined = [(i.org_id, i.role) for i in accept_invitations(storage, user)]
    if linked is not None and storage.get_membership(linked.id, user.id) is None:
        role = _workos_role(identity.provider_role)
        storage.set_membership(linked.id, user.id, role)
        joined.append((linked.id, role))
    orgs = storage.list_user_orgs(user.id)
    if not orgs:
        if signup != "open":
            raise NotInvited(identity.email)  # invitations that expired meanwhile
        org = _new_org(storage, identity)
        storage.set_membership(org.id, user.id, "owner")
        joined.append((org.id, "owner"))
        orgs = storage.list_user_orgs(user.id)
    mine = {org.id for _, org in orgs}
    choices = [preferred_org, *(org for org, _ in reversed(joined))]
    if linked is not None:
        choices.append(linked.id)
    org_id = next((c for c in choices if c in mine), orgs[0][1].id)
    return SignedIn(user, org_id, tuple(joined))


def _known_user(storage: Storage, identity: Identity) -> User | None:
    if identity.provider_user_id:
        user = storage.find_user(workos_user_id=identity.provider_user_id)
        if user is not None:
            return user
    # A member added earlier by email (CLI, invitation) is linked at their first sign-in.
    return storage.find_user(email=identity.email)


def _updated(storage: Storage, user: User, identity: Identity) -> User:
    changed = storage.update_user(
        user.id,
        email=identity.email if identity.email != user.email else None,
        name=identity.name if identity.name and identity.name != user.name else None,
        workos_user_id=identity.provider_user_id
        if identity.provider_user_id != user.workos_user_id
        else None,
    )
    return changed or user


def _new_org(storage: Storage, identity: Identity) -> Organization:
    base = identity.email.split("@", 1)[0] or "my"
    for suffix in ("", *(f"-{n}" for n in range(2, 100))):
        try:
            return storage.create_org(f"{base}{suffix}")
        except ConflictError:
            continue
    raise ConflictError("could not find a free organization name")
