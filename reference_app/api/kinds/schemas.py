"""Installed resource kinds, with the hints a user interface needs to show them."""

from __future__ import annotations

import marshmallow as ma

from obsyk_core.kinds import CATEGORIES, COLUMN_TYPES


class ColumnSchema(ma.Schema):
    field = ma.fields.String(
        metadata={"description": "Record field; a dotted path reaches into nested objects"}
    )
    type = ma.fields.String(
        metadata={
            "description": "How the value renders",
            "enum": list(COLUMN_TYPES),
        }
    )
    label = ma.fields.String(metadata={"description": "The column's heading"})
    good = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "status columns: values shown as healthy (case ignored)"},
    )
    warn = ma.fields.List(
        ma.fields.String(), metadata={"description": "status columns: values worth a look"}
    )
    bad = ma.fields.List(
        ma.fields.String(), metadata={"description": "status columns: values shown as failing"}
    )


class DisplayHintsSchema(ma.Schema):
    category = ma.fields.String(
        metadata={"description": "The kind's group", "enum": list(CATEGORIES)}
    )
    columns = ma.fields.List(
        ma.fields.Nested(ColumnSchema),
        metadata={"description": "The resource table's columns, in order"},
    )
    status_field = ma.fields.String(
        allow_none=True,
        metadata={"description": "Record field summarising health, if any (one of the columns)"},
    )


class KindSchema(ma.Schema):
    kind = ma.fields.String(metadata={"description": "Kubernetes kind name, e.g. `Pod`"})
    group = ma.fields.String(metadata={"description": "API group; empty for the core group"})
    version = ma.fields.String()
    api_version = ma.fields.String(metadata={"description": "`apps/v1`, or `v1` for core"})
    plural = ma.fields.String()
    namespaced = ma.fields.Boolean()
    snapshot_key = ma.fields.String(metadata={"description": "Array name in a snapshot body"})
    plugin = ma.fields.String(metadata={"description": "The plugin that declares the kind"})
    display = ma.fields.Nested(DisplayHintsSchema)


class KindListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(KindSchema))
