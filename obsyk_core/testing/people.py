"""Accounts: WorkOS links, members, tokens, sign-in sessions, invitations, the audit log."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from obsyk_core.people import AuditEntry, AuditQuery, Invitation, LastOwnerError, SignInSession
from obsyk_core.storage import ConflictError, Storage
from obsyk_core.testing.base import ConformanceBase, assert_utc
from obsyk_core.testing.builders import T0


def _session(user_id: str, org_id: str, **fields: object) -> SignInSession:
    values: dict[str, object] = {
        "id_hash": uuid.uuid4().hex,
        "user_id": user_id,
        "org_id": org_id,
        "created_at": T0,
        "last_seen_at": T0,
        "expires_at": T0 + timedelta(days=7),
        **fields,
    }
    return SignInSession(**values)  # type: ignore[arg-type]


class PeopleConformance(ConformanceBase):
    def test_orgs_link_to_one_workos_organization_each(self, obsyk_storage: Storage) -> None:
        first, second = self.new_org(obsyk_storage), self.new_org(obsyk_storage)
        linked = obsyk_storage.link_org(first.id, "org_01W")
        assert linked is not None and linked.workos_org_id == "org_01W"
        assert obsyk_storage.find_org_by_workos_id("org_01W") == linked
        with pytest.raises(ConflictError):
            obsyk_storage.link_org(second.id, "org_01W")
        assert obsyk_storage.link_org(first.id, None) is not None
        assert obsyk_storage.find_org_by_workos_id("org_01W") is None
        renamed = obsyk_storage.update_org(second.id, name="renamed")
        assert renamed is not None and renamed.name == "renamed"
        with pytest.raises(ConflictError):
            obsyk_storage.update_org(first.id, name="renamed")
        assert obsyk_storage.update_org("no-such-org", name="x") is None

    def test_users_are_found_by_email_or_workos_id(self, obsyk_storage: Storage) -> None:
        user = obsyk_storage.ensure_user("Ada@Example.com")
        updated = obsyk_storage.update_user(user.id, name="Ada L", workos_user_id="user_01A")
        assert updated is not None and (updated.name, updated.workos_user_id) == (
            "Ada L",
            "user_01A",
        )
        assert obsyk_storage.find_user(email="ada@example.COM") == updated
        assert obsyk_storage.find_user(workos_user_id="user_01A") == updated
        assert obsyk_storage.find_user(email="nobody@example.com") is None
        other = obsyk_storage.ensure_user("grace@example.com")
        with pytest.raises(ConflictError):
            obsyk_storage.update_user(other.id, workos_user_id="user_01A")

    def test_members_and_their_orgs_are_listed(self, obsyk_storage: Storage) -> None:
        org, other = self.new_org(obsyk_storage), self.new_org(obsyk_storage)
        ann, bob = obsyk_storage.ensure_user("ann@x.io"), obsyk_storage.ensure_user("bob@x.io")
        obsyk_storage.set_membership(org.id, bob.id, "viewer")
        obsyk_storage.set_membership(org.id, ann.id, "owner")
        obsyk_storage.set_membership(other.id, ann.id, "member")
        members = obsyk_storage.list_members(org.id)
        assert [(u.email, m.role) for m, u in members] == [
            ("ann@x.io", "owner"),
            ("bob@x.io", "viewer"),
        ]
        assert {(o.id, m.role) for m, o in obsyk_storage.list_user_orgs(ann.id)} == {
            (org.id, "owner"),
            (other.id, "member"),
        }

    def test_the_last_owner_cannot_leave_or_be_demoted(self, obsyk_storage: Storage) -> None:
        org = self.new_org(obsyk_storage)
        ann, bob = obsyk_storage.ensure_user("ann@x.io"), obsyk_storage.ensure_user("bob@x.io")
        obsyk_storage.set_membership(org.id, ann.id, "owner")
        obsyk_storage.set_membership(org.id, bob.id, "admin")
        for role in ("admin", None):
            with pytest.raises(LastOwnerError):
                obsyk_storage.change_membership(org.id, ann.id, role)
        assert obsyk_storage.get_membership(org.id, ann.id).role == "owner"  # type: ignore[union-attr]
        assert obsyk_storage.change_membership(org.id, bob.id, "owner")
        assert obsyk_storage.change_membership(org.id, ann.id, "viewer")
        assert not obsyk_storage.change_membership(org.id, "no-such-user", "viewer")

    def test_removing_a_member_revokes_their_tokens_and_sessions_there(
        self, obsyk_storage: Storage
    ) -> None:
        org, other = self.new_org(obsyk_storage), self.new_org(obsyk_storage)
        bob = obsyk_storage.ensure_user("bob@x.io")
        obsyk_storage.set_membership(org.id, bob.id, "member")
        obsyk_storage.set_membership(other.id, bob.id, "member")
        here = obsyk_storage.create_api_token(org.id, bob.id, "h" * 64, "laptop")
        there = obsyk_storage.create_api_token(other.id, bob.id, "t" * 64, "laptop")
        session = obsyk_storage.create_session(_session(bob.id, org.id))
        kept = obsyk_storage.create_session(_session(bob.id, other.id))

        assert obsyk_storage.change_membership(org.id, bob.id, None)

        assert obsyk_storage.get_membership(org.id, bob.id) is None
        assert obsyk_storage.find_api_token(here.token_hash) is None
        assert obsyk_storage.find_api_token(there.token_hash) == there
        assert obsyk_storage.get_session(session.id_hash) is None
        assert obsyk_storage.get_session(kept.id_hash) == kept

    def test_api_tokens_are_listed_unrevoked_with_their_expiry(
        self, obsyk_storage: Storage
    ) -> None:
        org = self.new_org(obsyk_storage)
        ann, bob = obsyk_storage.ensure_user("ann@x.io"), obsyk_storage.ensure_user("bob@x.io")
        expiring = obsyk_storage.create_api_token(
            org.id, ann.id, "a" * 64, "ci", expires_at=T0 + timedelta(days=30)
        )
        assert_utc(expiring.expires_at)
        other = obsyk_storage.create_api_token(org.id, bob.id, "b" * 64, "laptop")
        revoked = obsyk_storage.create_api_token(org.id, ann.id, "c" * 64, "old")
        obsyk_storage.revoke_api_token(revoked.id, T0)
        assert obsyk_storage.list_api_tokens(org.id, ann.id) == [expiring]
        assert {t.id for t in obsyk_storage.list_api_tokens(org.id)} == {expiring.id, other.id}
        assert obsyk_storage.get_api_token(expiring.id) == expiring
        assert obsyk_storage.get_api_token(revoked.id).revoked_at is not None  # type: ignore[union-attr]

    def test_sessions_are_kept_updated_and_pruned(self, obsyk_storage: Storage) -> None:
        org = self.new_org(obsyk_storage)
        ann = obsyk_storage.ensure_user("ann@x.io")
        session = obsyk_storage.create_session(
            _session(ann.id, org.id, refresh_token=b"\x00secret", provider_session_id="session_1")
        )
        assert obsyk_storage.get_session(session.id_hash) == session
        assert obsyk_storage.authenticate_session(session.id_hash) == (session, None)
        obsyk_storage.set_membership(org.id, ann.id, "admin")
        assert obsyk_storage.authenticate_session(session.id_hash) == (session, "admin")
        assert obsyk_storage.authenticate_session("no-such-session") is None
        later = T0 + timedelta(hours=1)
        assert obsyk_storage.update_session(session.id_hash, last_seen_at=later)
        found = obsyk_storage.get_session(session.id_hash)
        assert found is not None and found.last_seen_at == later
        assert_utc(found.expires_at)
        idle = obsyk_storage.create_session(_session(ann.id, org.id))
        assert obsyk_storage.prune_sessions(idle_before=T0 + timedelta(minutes=30), now=later) == 1
        assert obsyk_storage.get_session(idle.id_hash) is None
        assert obsyk_storage.delete_session(session.id_hash)
        assert not obsyk_storage.delete_session(session.id_hash)
        assert not obsyk_storage.update_session(session.id_hash, last_seen_at=later)

    def test_invitations_close_once(self, obsyk_storage: Storage) -> None:
        org = self.new_org(obsyk_storage)
        invitation = obsyk_storage.create_invitation(
            Invitation(
                id=uuid.uuid4().hex,
                org_id=org.id,
                email="New@X.io",
                role="member",
                invited_by=None,
                created_at=T0,
                expires_at=T0 + timedelta(days=7),
                token_hash="i" * 64,
            )
        )
        assert obsyk_storage.get_invitation(invitation.id) == invitation
        assert obsyk_storage.find_invitation_by_token("i" * 64) == invitation
        assert obsyk_storage.list_invitations(org_id=org.id) == [invitation]
        assert obsyk_storage.list_invitations(email="new@x.io") == [invitation]
        assert obsyk_storage.close_invitation(invitation.id, accepted_at=T0)
        assert not obsyk_storage.close_invitation(invitation.id, revoked_at=T0)
        closed = obsyk_storage.get_invitation(invitation.id)
        assert closed is not None and closed.state == "accepted"
        assert obsyk_storage.list_invitations(org_id=org.id) == []

    def test_the_audit_log_is_filtered_and_paged_newest_first(self, obsyk_storage: Storage) -> None:
        org, other = self.new_org(obsyk_storage), self.new_org(obsyk_storage)
        entries = [
            AuditEntry(
                id=f"e{i}",
                org_id=org.id,
                at=T0 + timedelta(minutes=i),
                actor_type="user",
                actor_id="u1" if i % 2 else "u2",
                actor_email="ann@x.io",
                action="token.created" if i < 3 else "member.invited",
                target_type="token",
                target_id=f"t{i}",
                details={"name": f"n{i}"},
                ip="127.0.0.1",
            )
            for i in range(5)
        ]
        for entry in entries:
            obsyk_storage.append_audit(entry)
        obsyk_storage.append_audit(
            AuditEntry("x", other.id, T0, "user", "u1", None, "token.created", None, None)
        )
        newest = obsyk_storage.list_audit(AuditQuery(org.id))
        assert [e.id for e in newest] == ["e4", "e3", "e2", "e1", "e0"]
        assert newest[0] == entries[4]
        assert_utc(newest[0].at)
        page = obsyk_storage.list_audit(AuditQuery(org.id, limit=2))
        rest = obsyk_storage.list_audit(AuditQuery(org.id, before=(page[-1].at, page[-1].id)))
        assert [e.id for e in page + rest] == ["e4", "e3", "e2", "e1", "e0"]
        filtered = obsyk_storage.list_audit(
            AuditQuery(org.id, actor_id="u1", action="token.created")
        )
        assert [e.id for e in filtered] == ["e1"]
        timed = obsyk_storage.list_audit(
            AuditQuery(org.id, since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
        )
        assert [e.id for e in timed] == ["e2", "e1"]

    def test_deleting_an_org_removes_everything_in_it_and_nothing_else(
        self, obsyk_storage: Storage
    ) -> None:
        org, other = self.new_org(obsyk_storage), self.new_org(obsyk_storage)
        ann = obsyk_storage.ensure_user("ann@x.io")
        for each in (org, other):
            obsyk_storage.set_membership(each.id, ann.id, "owner")
            obsyk_storage.create_api_token(each.id, ann.id, each.id[:8] + "t" * 56, "t")
            obsyk_storage.create_session(_session(ann.id, each.id))
            obsyk_storage.create_cluster(each.id, "prod")
            obsyk_storage.append_audit(
                AuditEntry(
                    uuid.uuid4().hex, each.id, T0, "user", ann.id, None, "org.updated", None, None
                )
            )
        assert obsyk_storage.delete_org(org.id)
        assert not obsyk_storage.delete_org(org.id)
        assert obsyk_storage.get_org(org.id) is None
        assert obsyk_storage.list_clusters(org.id) == []
        assert obsyk_storage.list_members(org.id) == []
        assert obsyk_storage.list_api_tokens(org.id) == []
        assert obsyk_storage.list_audit(AuditQuery(org.id)) == []
        assert obsyk_storage.get_user(ann.id) is not None
        assert [o.id for _, o in obsyk_storage.list_user_orgs(ann.id)] == [other.id]
        assert len(obsyk_storage.list_clusters(other.id)) == 1
        assert len(obsyk_storage.list_audit(AuditQuery(other.id))) == 1
