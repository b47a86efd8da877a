"""Installed resource kinds, with the hints a user interface needs to show them."""

from __future__ import annotations

import marshmallow as ma


class DisplayHintsSchema(ma.Schema):
    category = ma.fields.String(
        metadata={"description": "Workloads, Network, Config, Storage, RBAC, Cluster or Events"}
    )
    columns = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "Record fields for a table; dotted paths reach into objects"},
    )
    status_field = ma.fields.String(
        allow_none=True, metadata={"description": "Record field summarising health, if any"}
    )
    icon = ma.fields.String(allow_none=True)


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
