"""``/api/v1/me`` (who is calling, in which org) and ``/api/v1/org`` (that org)."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import current_app, g
from flask.views import MethodView

from obsyk_core.storage import ConflictError
from reference_app.api.account.schemas import (
    MeSchema,
    OrgDeleteArgsSchema,
    OrgSchema,
    OrgUpdateSchema,
    SwitchOrgSchema,
)
from reference_app.api.arguments import ApiBlueprint
from reference_app.api.error_schema import ErrorSchema
from reference_app.auth import audit
from reference_app.auth.guards import Permission, current_user, requires
from reference_app.errors import abort_json
from reference_app.state import get_state

blp = ApiBlueprint(
    "account",
    __name__,
    url_prefix="/api/v1",
    description="Who is signed in, the organizations they belong to, and the current one.",
)


def _me() -> dict[str, Any]:
    caller = current_user()
    storage = get_state().storage
    user = storage.get_user(caller.user_id)
    orgs = [
        {"id": org.id, "name": org.name, "role": membership.role}
        for membership, org in storage.list_user_orgs(caller.user_id)
    ]
    current = next(org for org in orgs if org["id"] == caller.org_id)
    return {"user": user, "organization": current, "organizations": orgs, "auth": caller.auth}


@blp.route("/me")
class Me(MethodView):
    @requires(Permission.READ_INVENTORY)
    @blp.response(200, MeSchema)
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    @blp.doc(security=[{"bearer": []}, {"session": []}])
    def get(self) -> dict[str, Any]:
        """You: your profile, the org you act in and every org you belong to."""
        return _me()


@blp.route("/me/organization")
class MyOrganization(MethodView):
    @requires(Permission.READ_INVENTORY)
    @blp.arguments(SwitchOrgSchema)
    @blp.response(200, MeSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not one of your orgs")
    @blp.alt_response(409, schema=ErrorSchema, description="API tokens belong to one org")
    @blp.doc(security=[{"session": []}])
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Switch the org your browser session acts in (session sign-in only)."""
        caller = current_user()
        if caller.session_id is None:
            abort_json(
                409,
                "An API token acts in the org it was made for; make one in the other org.",
                code="conflict",
            )
        storage = get_state().storage
        if storage.get_membership(data["id"], caller.user_id) is None:
            abort_json(404, f"You are not a member of org {data['id']!r}.", code="not_found")
        storage.update_session(caller.session_id, org_id=data["id"])
        g.user = dataclasses.replace(caller, org_id=data["id"])
        return _me()


@blp.route("/org")
class Org(MethodView):
    @requires(Permission.READ_INVENTORY)
    @blp.response(200, OrgSchema)
    @blp.doc(security=[{"bearer": []}, {"session": []}])
    def get(self) -> Any:
        """The organization you act in."""
        return get_state().storage.get_org(current_user().org_id)

    @requires(Permission.MANAGE_ORG)
    @blp.arguments(OrgUpdateSchema)
    @blp.response(200, OrgSchema)
    @blp.alt_response(403, schema=ErrorSchema, description="Owners only")
    @blp.alt_response(409, schema=ErrorSchema, description="Name or WorkOS org taken")
    @blp.doc(security=[{"bearer": []}, {"session": []}])
    def patch(self, data: dict[str, Any]) -> Any:
        """Rename your organization or link it to a WorkOS organization (owners)."""
        storage = get_state().storage
        org_id = current_user().org_id
        # Both checked before either is written: a refusal changes nothing.
        named = storage.get_org(data["name"]) if data.get("name") else None
        linked_id = data.get("workos_organization_id")
        linked = storage.find_org_by_workos_id(linked_id) if linked_id else None
        for other, what in ((named, "name"), (linked, "WorkOS organization")):
            if other is not None and other.id != org_id:
                abort_json(409, f"Another organization has this {what}.", code="conflict")
        try:
            org = storage.update_org(org_id, name=data.get("name"))
            if "workos_organization_id" in data:
                org = storage.link_org(org_id, linked_id)
        except ConflictError as error:
            abort_json(409, str(error), code="conflict")
        audit.record("org.updated", target=("org", org_id), details=data)
        return org

    @requires(Permission.DELETE_ORG)
    @blp.arguments(OrgDeleteArgsSchema, location="query")
    @blp.response(204)
    @blp.alt_response(403, schema=ErrorSchema, description="Owners only")
    @blp.alt_response(422, schema=ErrorSchema, description="`confirm` is not the org's name")
    @blp.doc(security=[{"bearer": []}, {"session": []}])
    def delete(self, args: dict[str, Any]) -> None:
        """Delete your organization with all its clusters, inventory, members' access and log.

        `confirm` must be the organization's name.  Its members' tokens and
        sessions stop working at once; their accounts stay (other orgs).
        """
        state = get_state()
        caller = current_user()
        org = state.storage.get_org(caller.org_id)
        if org is None or args["confirm"] != org.name:
            abort_json(
                422,
                "Pass the organization's name as `confirm` to delete it.",
                errors={"confirm": ["Must be the organization's name."]},
            )
        clusters = state.storage.list_clusters(org.id)
        credentials = {c.id: state.storage.list_credentials(c.id) for c in clusters}
        state.storage.delete_org(org.id)
        for cluster_id, its_credentials in credentials.items():
            state.forget_cluster(cluster_id, [c.client_id for c in its_credentials])
        current_app.logger.warning(
            "organization %s (%s) deleted by user %s", org.name, org.id, caller.user_id
        )
