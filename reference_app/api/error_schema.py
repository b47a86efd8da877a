"""The one error shape (``reference_app.errors``), described for the OpenAPI document."""

from __future__ import annotations

import marshmallow as ma


class ErrorSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "Stable machine-readable slug"})
    status = ma.fields.Integer(metadata={"description": "HTTP status"})
    message = ma.fields.String(metadata={"description": "What went wrong, for a person"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Messages by field path (``pods.3.uid``, ``label_selector``)"},
    )
