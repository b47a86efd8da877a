"""The role matrix: every people's route x every role x own org / other org, from one table.

Each row of :data:`ROUTES` names a route, the permission it must declare and
what a permitted caller of the target's own org gets.  For every role the test
calls it as a member of the org that owns the target and as a member of another
org with the same role, and checks:

* a role without the permission gets 403, from either org, and nothing changes;
* a permitted caller of the own org gets the route's success status;
* a permitted caller of the other org gets 404 for a target of the first org
  (ids cannot be probed), or, on org-wide routes, an answer without any of the
  first org's data.

A meta-test keeps the table complete: every ``/api/v1`` rule (agent routes
aside) must have a row, and its view must declare the row's permission.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from agent_wire import Agent, new_cluster_uid, pod
from app_support import ClusterKeys, new_cluster, new_org, new_user_token, request_access_token
from flask import Flask
from flask.testing import FlaskClient

from obsyk_core.storage import ROLES, Organization, Role, Storage
from reference_app.auth.api_tokens import hash_token, issue_api_token
from reference_app.auth.membership import add_member, invite
from reference_app.auth.policy import ROLE_PERMISSIONS, Permission
from reference_app.state import get_state

P = Permission


@dataclass
class World:
    """Org ``mine`` (the target's) and org ``other``, each with a member of every role."""

    app: Flask
    mine: Organization
    other: Organization
    keys: ClusterKeys
    tokens: dict[tuple[str, Role], str] = field(default_factory=dict)
    #: A secret-looking marker only org ``mine``'s data contains.
    marker: str = ""

    def fresh_cluster(self) -> ClusterKeys:
        return new_cluster(self.app, self.mine, f"{self.marker}-{uuid.uuid4().hex[:6]}")

    def fresh_member(self) -> str:
        """A new member of org ``mine`` (role member): their user id."""
        email = f"{self.marker}-{uuid.uuid4().hex[:6]}@example.com"
        user, _ = add_member(self.storage, self.mine.id, email, "member")
        return user.id

    def fresh_invitation(self) -> str:
        email = f"{self.marker}-{uuid.uuid4().hex[:6]}@example.com"
        return invite(
            self.storage,
            self.mine.id,
            email,
            "member",
            caller_role="owner",
            invited_by=None,
            public_url="https://obsyk.test",
        ).invitation.id

    def own_token(self, role: Role) -> str:
        """A new token of org ``mine``'s member with ``role``: theirs to revoke."""
        record = self.storage.find_api_token(hash_token(self.tokens[(self.mine.id, role)]))
        assert record is not None
        return issue_api_token(self.storage, self.mine.id, record.user_id).record.id

    @property
    def storage(self) -> Storage:
        return get_state(self.app).storage

    def counts(self) -> tuple[int, ...]:
        """What a refused call must leave as it was in org ``mine``."""
        storage = self.storage
        return (
            len(storage.list_clusters(self.mine.id)),
            len(storage.list_members(self.mine.id)),
            len(storage.list_invitations(org_id=self.mine.id)),
            len(storage.list_api_tokens(self.mine.id)),
            getattr(storage.get_org(self.mine.id), "name", None),
        )

    def fill(self, path: str, role: Role, caller_org: Organization) -> str:
        """The path with its placeholders made into ids of org ``mine``."""
        values: dict[str, Callable[[], str]] = {
            "cluster": lambda: self.keys.cluster.id,
            "client": lambda: self.keys.client_id,
            "uid": lambda: "pod-1",
            "fresh_cluster": lambda: self.fresh_cluster().cluster.id,
            "member": self.fresh_member,
            "invitation": self.fresh_invitation,
            "own_token": lambda: self.own_token(role),
            "caller_org_name": lambda: caller_org.name,
        }
        if "{fresh_client}" in path:
            fresh = self.fresh_cluster()
            path = path.replace("{fresh_cluster_of_client}", fresh.cluster.id)
            path = path.replace("{fresh_client}", fresh.client_id)
        for name, make in values.items():
            if "{" + name + "}" in path:
                path = path.replace("{" + name + "}", make())
        return path


@dataclass(frozen=True)
class Route:
    method: str
    #: The path with placeholders (see :meth:`World.fill`).
    path: str
    #: The URL rule as Flask knows it (for the completeness check).
    rule: str
    permission: Permission
    ok: int
    body: dict[str, Any] | None = None

    @property
    def targets_an_id(self) -> bool:
        return "<" in self.rule

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"


ROUTES = [
    Route("GET", "/api/v1/kinds", "/api/v1/kinds", P.READ_INVENTORY, 200),
    Route("GET", "/api/v1/summary", "/api/v1/summary", P.READ_INVENTORY, 200),
    Route("GET", "/api/v1/resources", "/api/v1/resources", P.READ_INVENTORY, 200),
    Route("GET", "/api/v1/clusters", "/api/v1/clusters", P.READ_INVENTORY, 200),
    Route(
        "POST",
        "/api/v1/clusters",
        "/api/v1/clusters",
        P.MANAGE_CLUSTERS,
        201,
        {"name": "{fresh_name}"},
    ),
    Route(
        "GET", "/api/v1/clusters/{cluster}", "/api/v1/clusters/<cluster_id>", P.READ_INVENTORY, 200
    ),
    Route(
        "DELETE",
        "/api/v1/clusters/{fresh_cluster}",
        "/api/v1/clusters/<cluster_id>",
        P.MANAGE_CLUSTERS,
        204,
    ),
    Route(
        "GET",
        "/api/v1/clusters/{cluster}/resources",
        "/api/v1/clusters/<cluster_id>/resources",
        P.READ_INVENTORY,
        200,
    ),
    Route(
        "GET",
        "/api/v1/clusters/{cluster}/agents",
        "/api/v1/clusters/<cluster_id>/agents",
        P.READ_INVENTORY,
        200,
    ),
    Route(
        "GET",
        "/api/v1/clusters/{cluster}/resources/{uid}",
        "/api/v1/clusters/<cluster_id>/resources/<uid>",
        P.READ_INVENTORY,
        200,
    ),
    Route(
        "GET",
        "/api/v1/clusters/{cluster}/resources/{uid}/history",
        "/api/v1/clusters/<cluster_id>/resources/<uid>/history",
        P.READ_INVENTORY,
        200,
    ),
    Route(
        "GET",
        "/api/v1/clusters/{cluster}/resources/{uid}/related",
        "/api/v1/clusters/<cluster_id>/resources/<uid>/related",
        P.READ_INVENTORY,
        200,
    ),
    Route("GET", "/api/v1/attention", "/api/v1/attention", P.READ_INVENTORY, 200),
    Route(
        "GET",
        "/api/v1/clusters/{cluster}/credentials",
        "/api/v1/clusters/<cluster_id>/credentials",
        P.MANAGE_CLUSTERS,
        200,
    ),
    Route(
        "POST",
        "/api/v1/clusters/{fresh_cluster}/credentials",
        "/api/v1/clusters/<cluster_id>/credentials",
        P.MANAGE_CLUSTERS,
        201,
        {},
    ),
    Route(
        "DELETE",
        "/api/v1/clusters/{fresh_cluster_of_client}/credentials/{fresh_client}",
        "/api/v1/clusters/<cluster_id>/credentials/<client_id>",
        P.MANAGE_CLUSTERS,
        204,
    ),
    Route("GET", "/api/v1/me", "/api/v1/me", P.READ_INVENTORY, 200),
    # An API token is bound to its org: switching is for browser sessions (409 here).
    Route(
        "PUT",
        "/api/v1/me/organization",
        "/api/v1/me/organization",
        P.READ_INVENTORY,
        409,
        {"id": "{mine}"},
    ),
    Route("GET", "/api/v1/org", "/api/v1/org", P.READ_INVENTORY, 200),
    Route("PATCH", "/api/v1/org", "/api/v1/org", P.MANAGE_ORG, 200, {"name": "{fresh_name}"}),
    # The own org's owner deletes it; the other org's owner deletes theirs (no id: 204).
    Route(
        "DELETE",
        "/api/v1/org?confirm={caller_org_name}",
        "/api/v1/org",
        P.DELETE_ORG,
        204,
    ),
    Route("GET", "/api/v1/members", "/api/v1/members", P.READ_INVENTORY, 200),
    Route(
        "PATCH",
        "/api/v1/members/{member}",
        "/api/v1/members/<user_id>",
        P.MANAGE_MEMBERS,
        200,
        {"role": "viewer"},
    ),
    Route("DELETE", "/api/v1/members/{member}", "/api/v1/members/<user_id>", P.MANAGE_MEMBERS, 204),
    Route("GET", "/api/v1/invitations", "/api/v1/invitations", P.MANAGE_MEMBERS, 200),
    Route(
        "POST",
        "/api/v1/invitations",
        "/api/v1/invitations",
        P.MANAGE_MEMBERS,
        201,
        {"email": "{fresh_name}@example.com", "role": "member"},
    ),
    Route(
        "DELETE",
        "/api/v1/invitations/{invitation}",
        "/api/v1/invitations/<invitation_id>",
        P.MANAGE_MEMBERS,
        204,
    ),
    Route("GET", "/api/v1/tokens", "/api/v1/tokens", P.MANAGE_OWN_TOKENS, 200),
    Route(
        "POST",
        "/api/v1/tokens",
        "/api/v1/tokens",
        P.MANAGE_OWN_TOKENS,
        201,
        {"name": "{fresh_name}"},
    ),
    Route(
        "DELETE",
        "/api/v1/tokens/{own_token}",
        "/api/v1/tokens/<token_id>",
        P.MANAGE_OWN_TOKENS,
        204,
    ),
    Route("GET", "/api/v1/audit", "/api/v1/audit", P.READ_AUDIT, 200),
]

#: The agent endpoints: operators, with `requires(Permission.INGEST)`.
AGENT_PREFIX = "/api/v1/agent/"


@pytest.fixture
def world(app: Flask, client: FlaskClient) -> World:
    marker = f"mine{uuid.uuid4().hex[:8]}"
    mine, other = new_org(app, f"{marker}-org"), new_org(app)
    keys = new_cluster(app, mine, f"{marker}-cluster")
    agent = Agent(
        client, request_access_token(client, keys), new_cluster_uid(), keys.cluster.id, mine.id
    )
    assert agent.snapshot(pods=[pod("pod-1", f"{marker}-pod")]).status_code == 200
    world = World(app, mine, other, keys, marker=marker)
    for org in (mine, other):
        for role in ROLES:
            world.tokens[(org.id, role)] = new_user_token(app, org, role)
    return world


def _call(client: FlaskClient, world: World, route: Route, path: str, token: str) -> Any:
    body = route.body
    if body is not None:
        # Names made by a call must not clash with the next call's.
        fresh = uuid.uuid4().hex[:8]
        body = {
            k: v.replace("{fresh_name}", fresh).replace("{mine}", world.mine.id)
            for k, v in body.items()
        }
    return client.open(
        path, method=route.method, json=body, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_role_matrix(client: FlaskClient, world: World, route: Route) -> None:
    for role in ROLES:
        allowed = route.permission in ROLE_PERMISSIONS[role]
        for org in (world.mine, world.other):
            own = org is world.mine
            case = f"{route} as {role} of the {'own' if own else 'other'} org"
            path = world.fill(route.path, role, org)
            before = world.counts()
            response = _call(client, world, route, path, world.tokens[(org.id, role)])
            text = response.get_data(as_text=True)
            if not allowed:
                assert response.status_code == 403, case
                assert response.get_json()["code"] == "forbidden", case
                assert world.counts() == before, case
            elif own:
                assert response.status_code == route.ok, (case, text)
            elif route.targets_an_id:
                assert response.status_code == 404, (case, text)
            else:
                assert response.status_code == route.ok, (case, text)
                assert world.marker not in text, case


def test_every_people_route_is_in_the_matrix_and_declares_its_permission(app: Flask) -> None:
    table = {(route.method, route.rule): route.permission for route in ROUTES}
    found, agents = {}, {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            handler = getattr(getattr(view, "view_class", None), method.lower(), None)
            declared = getattr(view, "obsyk_permission", None) or getattr(
                handler, "obsyk_permission", None
            )
            place = agents if rule.rule.startswith(AGENT_PREFIX) else found
            place[(method, rule.rule)] = declared
    assert found == table
    # The agent endpoints declare theirs too: operators only (no role holds it).
    assert agents and set(agents.values()) == {P.INGEST}
    assert all(P.INGEST not in permissions for permissions in ROLE_PERMISSIONS.values())
