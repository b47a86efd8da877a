"""Who is signed in, and their organization."""

from __future__ import annotations

import marshmallow as ma

from obsyk_core.storage import ROLES


class UserSchema(ma.Schema):
    id = ma.fields.String()
    email = ma.fields.String()
    name = ma.fields.String(allow_none=True)


class OrgRoleSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    role = ma.fields.String(metadata={"description": f"One of {', '.join(ROLES)}"})


class MeSchema(ma.Schema):
    user = ma.fields.Nested(UserSchema)
    organization = ma.fields.Nested(OrgRoleSchema, metadata={"description": "Acting in"})
    organizations = ma.fields.List(
        ma.fields.Nested(OrgRoleSchema), metadata={"description": "Every org you belong to"}
    )
    auth = ma.fields.String(metadata={"description": "`session` (signed in) or `token`"})


class SwitchOrgSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "One of your orgs"})


class OrgSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    created_at = ma.fields.DateTime()
    workos_organization_id = ma.fields.String(
        allow_none=True, attribute="workos_org_id", metadata={"description": "Linked WorkOS org"}
    )


class OrgDeleteArgsSchema(ma.Schema):
    confirm = ma.fields.String(
        required=True, metadata={"description": "The organization's name, to confirm"}
    )


class OrgUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    workos_organization_id = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "`org_...`; null unlinks"},
    )
