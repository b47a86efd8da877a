"""Organizations, users, memberships, API tokens, clusters and credentials."""

from __future__ import annotations

import pytest

from obsyk_core.storage import (
    ClusterSeen,
    ConflictError,
    Credential,
    Membership,
    ResourceQuery,
    StagedChunk,
    Storage,
)
from obsyk_core.testing.base import ConformanceBase, assert_utc
from obsyk_core.testing.builders import T0, at, pod, snapshot

PUBLIC_KEY = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEq1n7dV6hI6sC1m8xqv0k2Qe2b0u0\n"
    "Zb8R1y3u1J3m0x0C0s1K0qv2y8h0m1c8bT0M3o5Z0a7m2r9v6c1b8d0a1g==\n"
    "-----END PUBLIC KEY-----\n"
)


class TenancyConformance(ConformanceBase):
    # -- organizations

    def test_create_and_get_org_by_id_and_by_name(self, obsyk_storage: Storage) -> None:
        org = obsyk_storage.create_org("acme")
        assert org.name == "acme"
        assert_utc(org.created_at)
        assert obsyk_storage.get_org(org.id) == org
        assert obsyk_storage.get_org("acme") == org
        assert obsyk_storage.get_org("no-such-org") is None

    def test_org_names_are_unique(self, obsyk_storage: Storage) -> None:
        obsyk_storage.create_org("acme")
        with pytest.raises(ConflictError):
            obsyk_storage.create_org("acme")
        assert [org.name for org in obsyk_storage.list_orgs()] == ["acme"]

    def test_list_orgs_returns_every_org(self, obsyk_storage: Storage) -> None:
        first = obsyk_storage.create_org("acme")
        second = obsyk_storage.create_org("globex")
        assert first.id != second.id
        assert {org.id for org in obsyk_storage.list_orgs()} == {first.id, second.id}

    # -- users and memberships

    def test_ensure_user_is_idempotent_and_case_insensitive(self, obsyk_storage: Storage) -> None:
        user = obsyk_storage.ensure_user("Ada@Example.com")
        assert_utc(user.created_at)
        assert obsyk_storage.ensure_user("ada@example.com").id == user.id
        assert obsyk_storage.ensure_user("ADA@EXAMPLE.COM").id == user.id
        assert obsyk_storage.get_user(user.id) == user
        other = obsyk_storage.ensure_user("grace@example.com")
        assert other.id != user.id
        assert obsyk_storage.get_user("no-such-user") is None

    def test_membership_is_set_updated_and_scoped_to_its_org(self, obsyk_storage: Storage) -> None:
        acme = obsyk_storage.create_org("acme")
        globex = obsyk_storage.create_org("globex")
        user = obsyk_storage.ensure_user("ada@example.com")
        assert obsyk_storage.get_membership(acme.id, user.id) is None
        obsyk_storage.set_membership(acme.id, user.id, "viewer")
        assert obsyk_storage.get_membership(acme.id, user.id) is not None
        membership = obsyk_storage.set_membership(acme.id, user.id, "admin")
        assert membership.role == "admin"
        stored = obsyk_storage.get_membership(acme.id, user.id)
        assert stored is not None and stored.role == "admin"
        assert obsyk_storage.get_membership(globex.id, user.id) is None

    # -- API tokens

    def test_api_token_found_by_hash_until_revoked(self, obsyk_storage: Storage) -> None:
        org = obsyk_storage.create_org("acme")
        user = obsyk_storage.ensure_user("ada@example.com")
        token = obsyk_storage.create_api_token(org.id, user.id, "a" * 64, "ci")
        assert (token.org_id, token.user_id, token.name) == (org.id, user.id, "ci")
        assert token.revoked_at is None
        assert_utc(token.created_at)
        found = obsyk_storage.find_api_token("a" * 64)
        assert found is not None and found.id == token.id
        assert obsyk_storage.find_api_token("b" * 64) is None

        assert obsyk_storage.revoke_api_token(token.id, at(5)) is True
        assert obsyk_storage.find_api_token("a" * 64) is None
        assert obsyk_storage.revoke_api_token("no-such-token", at(5)) is False

    def test_authenticate_api_token_returns_token_with_current_membership(
        self, obsyk_storage: Storage
    ) -> None:
        org = obsyk_storage.create_org("acme")
        user = obsyk_storage.ensure_user("ada@example.com")
        obsyk_storage.set_membership(org.id, user.id, "viewer")
        token = obsyk_storage.create_api_token(org.id, user.id, "a" * 64, "ci")

        found = obsyk_storage.authenticate_api_token("a" * 64)
        assert found is not None
        record, membership = found
        assert (record.id, record.org_id, record.user_id) == (token.id, org.id, user.id)
        assert membership == Membership(org.id, user.id, "viewer")
        assert obsyk_storage.authenticate_api_token("b" * 64) is None

        # A role change is seen by the very next call: nothing is cached.
        obsyk_storage.set_membership(org.id, user.id, "admin")
        found = obsyk_storage.authenticate_api_token("a" * 64)
        assert found is not None and found[1].role == "admin"

    def test_authenticate_api_token_refuses_a_revoked_token_at_once(
        self, obsyk_storage: Storage
    ) -> None:
        org = obsyk_storage.create_org("acme")
        user = obsyk_storage.ensure_user("ada@example.com")
        obsyk_storage.set_membership(org.id, user.id, "owner")
        token = obsyk_storage.create_api_token(org.id, user.id, "a" * 64, "ci")
        assert obsyk_storage.authenticate_api_token("a" * 64) is not None

        assert obsyk_storage.revoke_api_token(token.id, at(5)) is True
        assert obsyk_storage.authenticate_api_token("a" * 64) is None

    def test_authenticate_api_token_needs_a_membership_in_the_tokens_org(
        self, obsyk_storage: Storage
    ) -> None:
        acme = obsyk_storage.create_org("acme")
        globex = obsyk_storage.create_org("globex")
        user = obsyk_storage.ensure_user("ada@example.com")
        # A member of another org only: the acme token admits nobody.
        obsyk_storage.set_membership(globex.id, user.id, "owner")
        obsyk_storage.create_api_token(acme.id, user.id, "a" * 64, "ci")
        assert obsyk_storage.authenticate_api_token("a" * 64) is None

        obsyk_storage.set_membership(acme.id, user.id, "member")
        found = obsyk_storage.authenticate_api_token("a" * 64)
        assert found is not None and found[1] == Membership(acme.id, user.id, "member")

    # -- clusters

    def test_create_and_get_cluster(self, obsyk_storage: Storage) -> None:
        org = obsyk_storage.create_org("acme")
        cluster = obsyk_storage.create_cluster(org.id, "prod-eu")
        assert (cluster.org_id, cluster.name) == (org.id, "prod-eu")
        assert_utc(cluster.created_at)
        assert cluster.cluster_uid is None
        assert cluster.last_seen_at is None
        assert obsyk_storage.get_cluster(org.id, cluster.id) == cluster

    def test_get_cluster_of_another_org_returns_none(self, obsyk_storage: Storage) -> None:
        acme = obsyk_storage.create_org("acme")
        globex = obsyk_storage.create_org("globex")
        cluster = obsyk_storage.create_cluster(acme.id, "prod-eu")
        assert obsyk_storage.get_cluster(globex.id, cluster.id) is None
        assert obsyk_storage.get_cluster(acme.id, "no-such-cluster") is None

    def test_cluster_names_are_unique_within_an_org(self, obsyk_storage: Storage) -> None:
        acme = obsyk_storage.create_org("acme")
        globex = obsyk_storage.create_org("globex")
        obsyk_storage.create_cluster(acme.id, "prod-eu")
        with pytest.raises(ConflictError):
            obsyk_storage.create_cluster(acme.id, "prod-eu")
        # Another org may use the same name.
        assert obsyk_storage.create_cluster(globex.id, "prod-eu").org_id == globex.id

    def test_list_clusters_orders_by_name_and_pages_by_id(self, obsyk_storage: Storage) -> None:
        org = obsyk_storage.create_org("acme")
        other = obsyk_storage.create_org("globex")
        for name in ("staging", "dev", "prod-us", "prod-eu", "qa"):
            obsyk_storage.create_cluster(org.id, name)
        obsyk_storage.create_cluster(other.id, "alpha")
        names = [c.name for c in obsyk_storage.list_clusters(org.id)]
        assert names == ["dev", "prod-eu", "prod-us", "qa", "staging"]

        first = obsyk_storage.list_clusters(org.id, limit=2)
        assert [c.name for c in first] == ["dev", "prod-eu"]
        rest = obsyk_storage.list_clusters(org.id, after=first[-1].id, limit=10)
        assert [c.name for c in rest] == ["prod-us", "qa", "staging"]

    def test_delete_cluster_removes_everything_it_owns(self, obsyk_storage: Storage) -> None:
        org = obsyk_storage.create_org("acme")
        doomed = obsyk_storage.create_cluster(org.id, "doomed")
        kept = obsyk_storage.create_cluster(org.id, "kept")
        for cluster in (doomed, kept):
            snapshot(obsyk_storage, cluster.id, at(0), {"Pod": [pod("p1")]})
            obsyk_storage.add_credential(
                Credential(f"client-{cluster.name}", org.id, cluster.id, PUBLIC_KEY, T0)
            )
            obsyk_storage.stage_chunk(cluster.id, StagedChunk("snap-1", 0, False, b"{}", T0))

        assert obsyk_storage.delete_cluster(org.id, doomed.id) is True

        assert obsyk_storage.get_cluster(org.id, doomed.id) is None
        assert obsyk_storage.get_resource(doomed.id, "p1") is None
        assert obsyk_storage.resource_history(doomed.id, "p1") == []
        assert obsyk_storage.get_credential("client-doomed") is None
        assert obsyk_storage.list_credentials(doomed.id) == []
        assert obsyk_storage.staged_chunks(doomed.id, "snap-1") == []
        assert obsyk_storage.query_resources(ResourceQuery(cluster_ids=(doomed.id,))) == []
        # The sibling cluster keeps all of its own.
        assert obsyk_storage.get_resource(kept.id, "p1") is not None
        assert len(obsyk_storage.resource_history(kept.id, "p1")) == 1
        assert obsyk_storage.get_credential("client-kept") is not None
        assert len(obsyk_storage.staged_chunks(kept.id, "snap-1")) == 1

        assert obsyk_storage.delete_cluster(org.id, doomed.id) is False

    def test_delete_cluster_of_another_org_is_refused(self, obsyk_storage: Storage) -> None:
        acme = obsyk_storage.create_org("acme")
        globex = obsyk_storage.create_org("globex")
        cluster = obsyk_storage.create_cluster(acme.id, "prod-eu")
        assert obsyk_storage.delete_cluster(globex.id, cluster.id) is False
        assert obsyk_storage.get_cluster(acme.id, cluster.id) is not None

    def test_bind_cluster_uid_binds_once(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        assert obsyk_storage.bind_cluster_uid(cluster.id, "kube-system-uid-1") is True
        assert obsyk_storage.bind_cluster_uid(cluster.id, "kube-system-uid-1") is True
        assert obsyk_storage.bind_cluster_uid(cluster.id, "kube-system-uid-2") is False
        stored = obsyk_storage.get_cluster(cluster.org_id, cluster.id)
        assert stored is not None and stored.cluster_uid == "kube-system-uid-1"

    def test_mark_cluster_seen_keeps_fields_it_is_not_given(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        obsyk_storage.mark_cluster_seen(
            cluster.id,
            ClusterSeen(
                seen_at=at(1),
                heartbeat_at=at(1),
                agent_version="0.3.2",
                kubernetes_version="v1.30.2",
            ),
        )
        obsyk_storage.mark_cluster_seen(cluster.id, ClusterSeen(seen_at=at(2), snapshot_at=at(2)))
        stored = obsyk_storage.get_cluster(cluster.org_id, cluster.id)
        assert stored is not None
        assert stored.last_seen_at == at(2)
        assert stored.last_heartbeat_at == at(1)
        assert stored.last_snapshot_at == at(2)
        assert stored.agent_version == "0.3.2"
        assert stored.kubernetes_version == "v1.30.2"
        for value in (stored.last_seen_at, stored.last_heartbeat_at, stored.last_snapshot_at):
            assert_utc(value)

    # -- credentials

    def test_credentials_are_listed_per_cluster_and_revocable(self, obsyk_storage: Storage) -> None:
        org = obsyk_storage.create_org("acme")
        prod = obsyk_storage.create_cluster(org.id, "prod")
        dev = obsyk_storage.create_cluster(org.id, "dev")
        first = Credential("client-a", org.id, prod.id, PUBLIC_KEY, T0)
        assert obsyk_storage.add_credential(first) == first
        obsyk_storage.add_credential(Credential("client-b", org.id, prod.id, PUBLIC_KEY, at(1)))
        obsyk_storage.add_credential(Credential("client-c", org.id, dev.id, PUBLIC_KEY, at(2)))

        stored = obsyk_storage.get_credential("client-a")
        assert stored is not None
        assert (stored.org_id, stored.cluster_id, stored.public_key_pem) == (
            org.id,
            prod.id,
            PUBLIC_KEY,
        )
        assert_utc(stored.created_at)
        assert {c.client_id for c in obsyk_storage.list_credentials(prod.id)} == {
            "client-a",
            "client-b",
        }
        assert obsyk_storage.get_credential("no-such-client") is None

        assert obsyk_storage.revoke_credential("client-a", at(5)) is True
        revoked = obsyk_storage.get_credential("client-a")
        assert revoked is not None and revoked.revoked_at == at(5)
        assert_utc(revoked.revoked_at)
        assert obsyk_storage.revoke_credential("no-such-client", at(5)) is False

    def test_create_cluster_with_credential_stores_both(self, obsyk_storage: Storage) -> None:
        org = obsyk_storage.create_org("acme")
        cluster, credential = obsyk_storage.create_cluster_with_credential(
            org.id, "prod", client_id="client-a", public_key_pem=PUBLIC_KEY, at=T0
        )
        assert obsyk_storage.get_cluster(org.id, cluster.id) == cluster
        assert cluster.name == "prod"
        assert obsyk_storage.get_credential("client-a") == credential
        assert (credential.org_id, credential.cluster_id, credential.created_at) == (
            org.id,
            cluster.id,
            T0,
        )

    def test_create_cluster_with_a_refused_credential_stores_no_cluster(
        self, obsyk_storage: Storage
    ) -> None:
        org = obsyk_storage.create_org("acme")
        obsyk_storage.create_cluster_with_credential(
            org.id, "prod", client_id="client-a", public_key_pem=PUBLIC_KEY, at=T0
        )
        with pytest.raises(ConflictError):
            obsyk_storage.create_cluster_with_credential(
                org.id, "dev", client_id="client-a", public_key_pem=PUBLIC_KEY, at=at(1)
            )
        assert [c.name for c in obsyk_storage.list_clusters(org.id)] == ["prod"]
        # The name was not left taken by a cluster without a credential.
        dev, _ = obsyk_storage.create_cluster_with_credential(
            org.id, "dev", client_id="client-b", public_key_pem=PUBLIC_KEY, at=at(2)
        )
        assert [c.name for c in obsyk_storage.list_clusters(org.id)] == ["dev", "prod"]
        assert [c.client_id for c in obsyk_storage.list_credentials(dev.id)] == ["client-b"]

    def test_create_cluster_with_a_taken_name_stores_no_credential(
        self, obsyk_storage: Storage
    ) -> None:
        org = obsyk_storage.create_org("acme")
        obsyk_storage.create_cluster_with_credential(
            org.id, "prod", client_id="client-a", public_key_pem=PUBLIC_KEY, at=T0
        )
        with pytest.raises(ConflictError):
            obsyk_storage.create_cluster_with_credential(
                org.id, "prod", client_id="client-b", public_key_pem=PUBLIC_KEY, at=at(1)
            )
        assert obsyk_storage.get_credential("client-b") is None
