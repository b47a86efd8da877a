"""The people part of the in-memory storage (:class:`~obsyk_core.people.PeopleStore`).

A mixin of :class:`~obsyk_plugins.memory_storage.MemoryStorage`: it keeps its
rows in the same ``_Data`` under the same lock, so every method is atomic.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from obsyk_core.people import (
    AuditEntry,
    AuditQuery,
    Invitation,
    LastOwnerError,
    PeopleStore,
    SignInSession,
)

if TYPE_CHECKING:
    from obsyk_core.storage import ApiToken, Membership, Organization, Role, User
    from obsyk_plugins.memory_storage import _Data


class MemoryPeople(PeopleStore):
    _data: _Data

    # -- organizations and users

    def update_org(self, org_id: str, *, name: str | None = None) -> Organization | None:
        from obsyk_core.storage import ConflictError

        with self._data.lock:
            org = self._data.orgs.get(org_id)
            if org is None or name is None:
                return org
            if any(o.name == name and o.id != org_id for o in self._data.orgs.values()):
                raise ConflictError(f"organization name {name!r} is already taken")
            org = self._data.orgs[org_id] = dataclasses.replace(org, name=name)
            return org

    def link_org(self, org_id: str, workos_org_id: str | None) -> Organization | None:
        from obsyk_core.storage import ConflictError

        with self._data.lock:
            org = self._data.orgs.get(org_id)
            if org is None:
                return None
            taken = workos_org_id is not None and any(
                o.workos_org_id == workos_org_id and o.id != org_id
                for o in self._data.orgs.values()
            )
            if taken:
                raise ConflictError(f"WorkOS organization {workos_org_id!r} is linked already")
            org = self._data.orgs[org_id] = dataclasses.replace(org, workos_org_id=workos_org_id)
            return org

    def find_org_by_workos_id(self, workos_org_id: str) -> Organization | None:
        with self._data.lock:
            return next(
                (o for o in self._data.orgs.values() if o.workos_org_id == workos_org_id), None
            )

    def delete_org(self, org_id: str) -> bool:
        data = self._data
        with data.lock:
            if data.orgs.pop(org_id, None) is None:
                return False
            for cluster in [c for c in data.clusters.values() if c.org_id == org_id]:
                self.delete_cluster(org_id, cluster.id)  # type: ignore[attr-defined]
            for pair in [pair for pair in data.memberships if pair[0] == org_id]:
                del data.memberships[pair]
            for token_id in [t.id for t in data.tokens.values() if t.org_id == org_id]:
                del data.tokens[token_id]
            for id_hash in [s.id_hash for s in data.sessions.values() if s.org_id == org_id]:
                del data.sessions[id_hash]
            for invitation in [i for i in data.invitations.values() if i.org_id == org_id]:
                del data.invitations[invitation.id]
            data.audit[:] = [entry for entry in data.audit if entry.org_id != org_id]
            return True

    def update_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        workos_user_id: str | None = None,
    ) -> User | None:
        from obsyk_core.storage import ConflictError

        with self._data.lock:
            user = self._data.users.get(user_id)
            if user is None:
                return None
            for other in self._data.users.values():
                if other.id == user_id:
                    continue
                if email is not None and other.email.casefold() == email.casefold():
                    raise ConflictError(f"another user has the email {email!r}")
                if workos_user_id is not None and other.workos_user_id == workos_user_id:
                    raise ConflictError(f"another user has the WorkOS id {workos_user_id!r}")
            user = dataclasses.replace(
                user,
                email=user.email if email is None else email,
                name=user.name if name is None else name,
                workos_user_id=user.workos_user_id if workos_user_id is None else workos_user_id,
            )
            self._data.users[user_id] = user
            return user

    def find_user(
        self, *, email: str | None = None, workos_user_id: str | None = None
    ) -> User | None:
        with self._data.lock:
            for user in self._data.users.values():
                if email is not None and user.email.casefold() == email.casefold():
                    return user
                if workos_user_id is not None and user.workos_user_id == workos_user_id:
                    return user
            return None

    # -- memberships

    def list_members(self, org_id: str) -> list[tuple[Membership, User]]:
        with self._data.lock:
            members = [
                (membership, self._data.users[user_id])
                for (org, user_id), membership in self._data.memberships.items()
                if org == org_id
            ]
        return sorted(members, key=lambda pair: (pair[1].email.casefold(), pair[1].id))

    def list_user_orgs(self, user_id: str) -> list[tuple[Membership, Organization]]:
        with self._data.lock:
            orgs = [
                (membership, self._data.orgs[org_id])
                for (org_id, user), membership in self._data.memberships.items()
                if user == user_id
            ]
        return sorted(orgs, key=lambda pair: (pair[1].name, pair[1].id))

    def change_membership(self, org_id: str, user_id: str, role: Role | None) -> bool:
        from obsyk_core.storage import Membership

        data = self._data
        with data.lock:
            current = data.memberships.get((org_id, user_id))
            if current is None:
                return False
            if current.role == "owner" and role != "owner":
                owners = sum(
                    1
                    for (org, _), m in data.memberships.items()
                    if org == org_id and m.role == "owner"
                )
                if owners <= 1:
                    raise LastOwnerError("the organization's last owner cannot leave or be demoted")
            if role is not None:
                data.memberships[(org_id, user_id)] = Membership(org_id, user_id, role)
                return True
            del data.memberships[(org_id, user_id)]
            now = datetime.now(UTC)
            for token in list(data.tokens.values()):
                if token.org_id == org_id and token.user_id == user_id and not token.revoked_at:
                    data.tokens[token.id] = dataclasses.replace(token, revoked_at=now)
            for id_hash, session in list(data.sessions.items()):
                if session.org_id == org_id and session.user_id == user_id:
                    del data.sessions[id_hash]
            return True

    # -- API tokens

    def list_api_tokens(self, org_id: str, user_id: str | None = None) -> list[ApiToken]:
        with self._data.lock:
            tokens = [
                token
                for token in self._data.tokens.values()
                if token.org_id == org_id
                and token.revoked_at is None
                and (user_id is None or token.user_id == user_id)
            ]
        return sorted(tokens, key=lambda token: (token.created_at, token.id), reverse=True)

    def get_api_token(self, token_id: str) -> ApiToken | None:
        with self._data.lock:
            return self._data.tokens.get(token_id)

    # -- sign-in sessions

    def create_session(self, session: SignInSession) -> SignInSession:
        with self._data.lock:
            self._data.sessions[session.id_hash] = session
        return session

    def get_session(self, id_hash: str) -> SignInSession | None:
        with self._data.lock:
            return self._data.sessions.get(id_hash)

    def update_session(self, id_hash: str, **changes: Any) -> bool:
        with self._data.lock:
            session = self._data.sessions.get(id_hash)
            if session is None:
                return False
            self._data.sessions[id_hash] = dataclasses.replace(session, **changes)
            return True

    def delete_session(self, id_hash: str) -> bool:
        with self._data.lock:
            return self._data.sessions.pop(id_hash, None) is not None

    def prune_sessions(self, idle_before: datetime, now: datetime) -> int:
        with self._data.lock:
            gone = [
                id_hash
                for id_hash, session in self._data.sessions.items()
                if session.last_seen_at < idle_before or session.expires_at <= now
            ]
            for id_hash in gone:
                del self._data.sessions[id_hash]
        return len(gone)

    # -- invitations

    def create_invitation(self, invitation: Invitation) -> Invitation:
        with self._data.lock:
            self._data.invitations[invitation.id] = invitation
        return invitation

    def get_invitation(self, invitation_id: str) -> Invitation | None:
        with self._data.lock:
            return self._data.invitations.get(invitation_id)

    def find_invitation_by_token(self, token_hash: str) -> Invitation | None:
        with self._data.lock:
            return next(
                (i for i in self._data.invitations.values() if i.token_hash == token_hash), None
            )

    def list_invitations(
        self, *, org_id: str | None = None, email: str | None = None
    ) -> list[Invitation]:
        with self._data.lock:
            found = [
                invitation
                for invitation in self._data.invitations.values()
                if invitation.state == "pending"
                and (org_id is None or invitation.org_id == org_id)
                and (email is None or invitation.email.casefold() == email.casefold())
            ]
        return sorted(found, key=lambda invitation: (invitation.created_at, invitation.id))

    def close_invitation(
        self,
        invitation_id: str,
        *,
        accepted_at: datetime | None = None,
        revoked_at: datetime | None = None,
    ) -> bool:
        with self._data.lock:
            invitation = self._data.invitations.get(invitation_id)
            if invitation is None or invitation.state != "pending":
                return False
            self._data.invitations[invitation_id] = dataclasses.replace(
                invitation, accepted_at=accepted_at, revoked_at=revoked_at
            )
            return True

    # -- audit log

    def append_audit(self, entry: AuditEntry) -> None:
        with self._data.lock:
            self._data.audit.append(entry)

    def list_audit(self, query: AuditQuery) -> list[AuditEntry]:
        def matches(entry: AuditEntry) -> bool:
            return (
                entry.org_id == query.org_id
                and (query.actor_id is None or entry.actor_id == query.actor_id)
                and (query.action is None or entry.action == query.action)
                and (query.since is None or entry.at >= query.since)
                and (query.until is None or entry.at < query.until)
                and (query.before is None or (entry.at, entry.id) < query.before)
            )

        with self._data.lock:
            found = [entry for entry in self._data.audit if matches(entry)]
        found.sort(key=lambda entry: (entry.at, entry.id), reverse=True)
        return found[: query.limit]
