"""Members of your organization and invitations to join it (admins and owners).

The rules about owners (only owners touch owners; the last owner stays) are
the policy's (:mod:`reference_app.auth.policy`), applied by
:mod:`reference_app.auth.membership`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NoReturn

from flask.views import MethodView

from obsyk_core.identity import InvitationRefused
from reference_app.api.arguments import ApiBlueprint
from reference_app.api.error_schema import ErrorSchema
from reference_app.api.members.schemas import (
    InvitationCreateSchema,
    InvitationListSchema,
    InvitationSchema,
    MemberListSchema,
    MemberSchema,
    RoleChangeSchema,
)
from reference_app.auth import audit
from reference_app.auth.guards import Permission, current_user, requires
from reference_app.auth.membership import change_member, invite
from reference_app.auth.policy import PolicyRefusal, check_grant
from reference_app.auth.setup import InvitationNotSent, get_people
from reference_app.errors import abort_json
from reference_app.state import get_state

blp = ApiBlueprint(
    "members",
    __name__,
    url_prefix="/api/v1",
    description="Members of your organization, their roles, and invitations.",
)


def _documented(func: Any) -> Any:
    func = blp.alt_response(401, schema=ErrorSchema, description="Not signed in")(func)
    func = blp.alt_response(403, schema=ErrorSchema, description="Role too weak")(func)
    return blp.doc(security=[{"bearer": []}, {"session": []}])(func)


def _refused(error: PolicyRefusal) -> NoReturn:
    abort_json(error.status, str(error), code="forbidden" if error.status == 403 else "conflict")


def _member_view(user_id: str, role: str) -> dict[str, Any]:
    user = get_state().storage.get_user(user_id)
    assert user is not None
    return {"user_id": user.id, "email": user.email, "name": user.name, "role": role}


@blp.route("/members")
class Members(MethodView):
    @requires(Permission.READ_INVENTORY)
    @blp.response(200, MemberListSchema)
    @_documented
    def get(self) -> dict[str, Any]:
        """Your organization's members and their roles, by email."""
        members = get_state().storage.list_members(current_user().org_id)
        return {
            "items": [
                {"user_id": u.id, "email": u.email, "name": u.name, "role": m.role}
                for m, u in members
            ]
        }


@blp.route("/members/<user_id>")
class Member(MethodView):
    @requires(Permission.MANAGE_MEMBERS)
    @blp.arguments(RoleChangeSchema)
    @blp.response(200, MemberSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not a member of your org")
    @blp.alt_response(409, schema=ErrorSchema, description="The last owner")
    @_documented
    def patch(self, data: dict[str, Any], user_id: str) -> dict[str, Any]:
        """Change a member's role (only owners make, change or remove owners)."""
        caller = current_user()
        storage = get_state().storage
        before = storage.get_membership(caller.org_id, user_id)
        try:
            changed = change_member(storage, caller.org_id, caller.role, user_id, data["role"])
        except PolicyRefusal as error:
            _refused(error)
        if changed is None or before is None:
            abort_json(404, f"No member {user_id!r} in your organization.", code="not_found")
        audit.record(
            "member.role_changed",
            target=("user", user_id),
            details={"from": before.role, "to": data["role"]},
        )
        return _member_view(user_id, data["role"])

    @requires(Permission.MANAGE_MEMBERS)
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="Not a member of your org")
    @blp.alt_response(409, schema=ErrorSchema, description="The last owner")
    @_documented
    def delete(self, user_id: str) -> None:
        """Remove a member: their API tokens and sessions in this org stop working at once."""
        caller = current_user()
        storage = get_state().storage
        try:
            removed = change_member(storage, caller.org_id, caller.role, user_id, None)
        except PolicyRefusal as error:
            _refused(error)
        if removed is None:
            abort_json(404, f"No member {user_id!r} in your organization.", code="not_found")
        audit.record("member.removed", target=("user", user_id), details={"role": removed.role})


@blp.route("/invitations")
class Invitations(MethodView):
    @requires(Permission.MANAGE_MEMBERS)
    @blp.response(200, InvitationListSchema)
    @_documented
    def get(self) -> dict[str, Any]:
        """Pending invitations to your organization, oldest first."""
        invitations = get_state().storage.list_invitations(org_id=current_user().org_id)
        return {"items": [_invitation_view(invitation) for invitation in invitations]}

    @requires(Permission.MANAGE_MEMBERS)
    @blp.arguments(InvitationCreateSchema)
    @blp.response(201, InvitationSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Already a member")
    @_documented
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Invite someone by email (through WorkOS when configured, else an accept link)."""
        caller = current_user()
        state = get_state()
        storage = state.storage
        existing = storage.find_user(email=data["email"])
        if existing and storage.get_membership(caller.org_id, existing.id) is not None:
            abort_json(409, f"{data['email']} is already a member.", code="conflict")
        sender = get_people().invitation_sender
        try:
            workos_id = None
            if sender is not None:
                check_grant(caller.role, data["role"])
                org = storage.get_org(caller.org_id)
                assert org is not None  # the guard just found the caller's membership in it
                workos_id = sender(org, data["email"], data["role"])
            issued = invite(
                storage,
                caller.org_id,
                data["email"],
                data["role"],
                caller_role=caller.role,
                invited_by=caller.user_id,
                public_url=state.settings.public_urls[0],
                workos_invitation_id=workos_id,
            )
        except PolicyRefusal as error:
            _refused(error)
        except InvitationRefused as error:
            abort_json(
                422,
                f"WorkOS refused the invitation: {error}",
                code="invitation_refused",
                errors={"email": [str(error)]},
            )
        except InvitationNotSent as error:
            abort_json(
                503,
                f"WorkOS did not send the invitation ({error}); nothing was stored, retry later.",
                code="identity_provider_unavailable",
                headers={"Retry-After": "30"},
            )
        audit.record(
            "member.invited",
            target=("invitation", issued.invitation.id),
            details={"email": data["email"], "role": data["role"]},
        )
        view = _invitation_view(issued.invitation)
        if issued.accept_url:
            view["accept_url"] = issued.accept_url
        return view


def _invitation_view(invitation: Any) -> dict[str, Any]:
    fields = ("id", "email", "role", "state", "created_at", "expires_at", "invited_by")
    view = {name: getattr(invitation, name) for name in fields}
    view["delivery"] = "workos" if invitation.workos_invitation_id else "link"
    return view


@blp.route("/invitations/<invitation_id>")
class InvitationById(MethodView):
    @requires(Permission.MANAGE_MEMBERS)
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="No pending invitation")
    @_documented
    def delete(self, invitation_id: str) -> None:
        """Revoke a pending invitation."""
        caller = current_user()
        storage = get_state().storage
        invitation = storage.get_invitation(invitation_id)
        if invitation is None or invitation.org_id != caller.org_id:
            abort_json(404, f"No invitation {invitation_id!r} in your org.", code="not_found")
        if not storage.close_invitation(invitation_id, revoked_at=datetime.now(UTC)):
            abort_json(404, "This invitation is no longer pending.", code="not_found")
        audit.record(
            "invitation.revoked",
            target=("invitation", invitation_id),
            details={"email": invitation.email},
        )
