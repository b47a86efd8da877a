"""Members of an organization and invitations to join it."""

from __future__ import annotations

import marshmallow as ma

from obsyk_core.storage import ROLES

_ROLE = ma.fields.String(
    required=True,
    validate=ma.validate.OneOf(ROLES),
    metadata={"description": f"One of {', '.join(ROLES)}"},
)


class MemberSchema(ma.Schema):
    user_id = ma.fields.String()
    email = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    role = ma.fields.String()


class MemberListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MemberSchema))


class RoleChangeSchema(ma.Schema):
    role = _ROLE


class InvitationCreateSchema(ma.Schema):
    email = ma.fields.Email(required=True)
    role = _ROLE


class InvitationSchema(ma.Schema):
    id = ma.fields.String()
    email = ma.fields.String()
    role = ma.fields.String()
    state = ma.fields.String(metadata={"description": "pending, accepted or revoked"})
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime()
    invited_by = ma.fields.String(allow_none=True)
    delivery = ma.fields.String(metadata={"description": "`workos` (WorkOS sent it) or `link`"})
    accept_url = ma.fields.String(
        metadata={"description": "The local accept link, in the creation answer only"}
    )


class InvitationListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(InvitationSchema))
