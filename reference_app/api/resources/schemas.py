"""Resource listings, single resources and their history."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import marshmallow as ma

from obsyk_core.labels import LabelSelectorError, parse_label_selector
from reference_app.api.cursors import CursorField

#: Length of :data:`obsyk_core.storage.SortKey`.
RESOURCE_SORT_KEY_LENGTH = 5
MAX_PAGE_SIZE = 1000


class LabelSelectorField(ma.fields.String):
    """``kubectl -l`` syntax; loads to a tuple of ``LabelRequirement``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_label_selector(text)
        except LabelSelectorError as error:
            raise ma.ValidationError(str(error)) from None


class StringMap(ma.fields.Dict):
    """Text keys to text values (labels, annotations), documented as such, dumped as stored.

    The stored maps are validated text to text on the way in, so the dump is
    the mapping as a dict, without a key and a value field call per entry.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=ma.fields.String(), values=ma.fields.String(), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else dict(value)


class ResourceFilterArgsSchema(ma.Schema):
    kind = ma.fields.String(metadata={"description": "Kubernetes kind name, e.g. `Pod`"})
    namespace = ma.fields.String()
    name = ma.fields.String(metadata={"description": "Name prefix"})
    q = ma.fields.String(metadata={"description": "Substring of the name"})
    label_selector = LabelSelectorField(
        metadata={
            "description": "Kubernetes label selector: `a=b,c!=d,e in (f,g),h,!i` "
            "(at most 50 clauses)"
        }
    )
    include_deleted = ma.fields.Boolean(load_default=False)
    as_of = ma.fields.AwareDateTime(
        default_timezone=UTC,
        metadata={"description": "ISO 8601 time: the inventory as it was then (UTC if no offset)"},
    )
    limit = ma.fields.Integer(
        load_default=100, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE)
    )
    cursor = CursorField(
        key_length=RESOURCE_SORT_KEY_LENGTH,
        metadata={"description": "`next_cursor` of the previous page"},
    )


class FleetFilterArgsSchema(ResourceFilterArgsSchema):
    cluster_id = ma.fields.String(metadata={"description": "Only this cluster"})


class ResourceSchema(ma.Schema):
    cluster_id = ma.fields.String()
    uid = ma.fields.String()
    kind = ma.fields.String()
    name = ma.fields.String()
    namespace = ma.fields.String(allow_none=True)
    labels = StringMap()
    annotations = StringMap()
    object = ma.fields.Dict(
        attribute="record",
        metadata={
            "description": "The record as the operator sent it, trimmed to its kind's schema"
        },
    )
    content_hash = ma.fields.String()
    first_seen_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    deleted_at = ma.fields.DateTime(allow_none=True)


class ResourcePageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ResourceSchema))
    next_cursor = ma.fields.String(
        allow_none=True,
        metadata={"description": "Pass as `cursor` for the next page; null at the end"},
    )


class ValueChangeSchema(ma.Schema):
    path = ma.fields.String(
        metadata={"description": "Dotted path; `containers[web]` is the list item named `web`"}
    )
    old = ma.fields.Raw(metadata={"description": "Value before; absent when the field was added"})
    new = ma.fields.Raw(metadata={"description": "Value after; absent when the field was removed"})
    added = ma.fields.List(
        ma.fields.Raw(), metadata={"description": "List entries that appeared (lists only)"}
    )
    removed = ma.fields.List(
        ma.fields.Raw(), metadata={"description": "List entries that disappeared (lists only)"}
    )


class DiffSchema(ma.Schema):
    added = ma.fields.List(ma.fields.String())
    removed = ma.fields.List(ma.fields.String())
    changed = ma.fields.List(ma.fields.String())
    values = ma.fields.List(
        ma.fields.Nested(ValueChangeSchema),
        metadata={"description": "The values: old -> new, or list entries added/removed"},
    )


class VersionSchema(ma.Schema):
    version = ma.fields.Integer(metadata={"description": "1 for the oldest kept version"})
    change = ma.fields.String(metadata={"description": "added, modified or deleted"})
    changed_at = ma.fields.DateTime()
    content_hash = ma.fields.String()
    name = ma.fields.String()
    namespace = ma.fields.String(allow_none=True)
    object = ma.fields.Dict(allow_none=True, metadata={"description": "null for a deletion"})
    diff = ma.fields.Nested(DiffSchema, metadata={"description": "Against the previous version"})


class HistorySchema(ma.Schema):
    cluster_id = ma.fields.String()
    uid = ma.fields.String()
    items = ma.fields.List(ma.fields.Nested(VersionSchema))


class EventDetailSchema(ma.Schema):
    type = ma.fields.String(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    message = ma.fields.String(allow_none=True)
    count = ma.fields.Integer(allow_none=True)
    last_timestamp = ma.fields.String(allow_none=True)


class RelatedItemSchema(ma.Schema):
    uid = ma.fields.String(
        allow_none=True, metadata={"description": "null for an object the inventory lacks"}
    )
    kind = ma.fields.String()
    name = ma.fields.String()
    namespace = ma.fields.String(allow_none=True)
    missing = ma.fields.Boolean(
        metadata={"description": "true: named by a record, not in the inventory (a ReplicaSet)"}
    )
    event = ma.fields.Nested(EventDetailSchema, metadata={"description": "events only"})


def _related_list(description: str) -> ma.fields.List[Any]:
    return ma.fields.List(
        ma.fields.Nested(RelatedItemSchema), metadata={"description": description}
    )


class RelatedSchema(ma.Schema):
    cluster_id = ma.fields.String()
    uid = ma.fields.String()
    owners = _related_list("Owner chain, nearest first, up to the top controller")
    owned = _related_list("Objects it owns")
    selects = _related_list("Objects its label selector picks (Deployment, NetworkPolicy...)")
    selected_by = _related_list("Objects whose label selector picks it")
    routes = _related_list(
        "Its traffic path: Services and Ingresses routing to it, or what it routes to"
    )
    uses = _related_list("Objects it names: ConfigMaps, Secrets, PVCs, ServiceAccount, Node")
    used_by = _related_list("Objects of its namespace naming it (Pods mounting a ConfigMap...)")
    events = _related_list("Events involving it, newest first")
