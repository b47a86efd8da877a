"""What needs attention across the fleet."""

from __future__ import annotations

import marshmallow as ma


class AttentionArgsSchema(ma.Schema):
    cluster_id = ma.fields.String(metadata={"description": "Only this cluster"})


class DisconnectedClusterSchema(ma.Schema):
    cluster_id = ma.fields.String()
    name = ma.fields.String()
    last_seen_at = ma.fields.DateTime(allow_none=True)


class AttentionItemSchema(ma.Schema):
    cluster_id = ma.fields.String()
    cluster_name = ma.fields.String()
    uid = ma.fields.String()
    kind = ma.fields.String()
    namespace = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    reason = ma.fields.String(
        metadata={
            "description": "CrashLoopBackOff, ImagePullBackOff, ErrImagePull, Failed, Pending, "
            "NotReady, BelowDesired or Warning"
        }
    )
    detail = ma.fields.String(metadata={"description": "A short explanation"})


class AttentionSchema(ma.Schema):
    disconnected = ma.fields.List(
        ma.fields.Nested(DisconnectedClusterSchema),
        metadata={"description": "Clusters heard from once, silent past the threshold"},
    )
    items = ma.fields.List(
        ma.fields.Nested(AttentionItemSchema),
        metadata={"description": "Resources needing attention, at most `limit`"},
    )
    truncated = ma.fields.Boolean(metadata={"description": "More resources need attention"})
    limit = ma.fields.Integer()
