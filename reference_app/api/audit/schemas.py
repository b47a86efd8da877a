"""The audit log."""

from __future__ import annotations

from datetime import UTC

import marshmallow as ma

from reference_app.api.cursors import CursorField
from reference_app.auth.audit import ACTIONS


class AuditArgsSchema(ma.Schema):
    actor = ma.fields.String(metadata={"description": "A user id or email"})
    action = ma.fields.String(validate=ma.validate.OneOf(ACTIONS))
    since = ma.fields.AwareDateTime(
        default_timezone=UTC, metadata={"description": "From (included); UTC when no offset"}
    )
    until = ma.fields.AwareDateTime(
        default_timezone=UTC, metadata={"description": "Up to (excluded); UTC when no offset"}
    )
    cursor = CursorField(key_length=2, metadata={"description": "`next_cursor` of the last page"})
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(min=1, max=500))


class ActorSchema(ma.Schema):
    type = ma.fields.String(metadata={"description": "user, token or system"})
    id = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)


class TargetSchema(ma.Schema):
    type = ma.fields.String(allow_none=True)
    id = ma.fields.String(allow_none=True)


class AuditEntrySchema(ma.Schema):
    id = ma.fields.String()
    at = ma.fields.DateTime()
    actor = ma.fields.Nested(ActorSchema)
    action = ma.fields.String(metadata={"description": f"One of {', '.join(ACTIONS)}"})
    target = ma.fields.Nested(TargetSchema)
    details = ma.fields.Dict()
    ip = ma.fields.String(allow_none=True)


class AuditPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AuditEntrySchema))
    next_cursor = ma.fields.String(allow_none=True)
