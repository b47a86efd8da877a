"""Personal API tokens."""

from __future__ import annotations

import marshmallow as ma


class TokenSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    user_id = ma.fields.String()
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime(allow_none=True)


class TokenListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TokenSchema))


class TokenListArgsSchema(ma.Schema):
    all = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Every token of the org, not only yours (admins and owners)"},
    )


class TokenCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    expires_in_days = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=3650),
        metadata={"description": "Omitted: the token lives until revoked"},
    )


class IssuedTokenSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    token = ma.fields.String(metadata={"description": "The secret, shown this once"})
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime(allow_none=True)
