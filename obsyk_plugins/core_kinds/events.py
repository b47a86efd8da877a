"""Event (core ``v1`` ``events``): what happened to an object, without labels or annotations.

Newer components write events through ``events.k8s.io`` and leave the
``v1`` compatibility fields empty (``firstTimestamp``, ``count``, ``source``);
the record then falls back to ``eventTime``, ``series.count`` and the
``reporting*`` fields so it still says when, how often (at least once) and who.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from obsyk_core.kinds import Column, DisplayHints, RawObject, Record, ResourceKind
from obsyk_plugins.core_kinds.metadata import rfc3339_utc, set_if
from obsyk_plugins.core_kinds.record_schema import (
    LenientSchema,
    NamespacedRecordSchema,
    nested,
    optional_integer,
    optional_string,
)


def extract_event(raw: RawObject) -> Record:
    meta: Mapping[str, Any] = raw.get("metadata") or {}
    series: Mapping[str, Any] = raw.get("series") or {}
    record: Record = {
        "uid": meta.get("uid", ""),
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "type": raw.get("type", ""),
        "reason": raw.get("reason", ""),
        "message": raw.get("message", ""),
        "involved_object": _involved_object(raw.get("involvedObject") or {}),
        "source": _source(raw),
    }
    set_if(
        record, "first_timestamp", rfc3339_utc(raw.get("firstTimestamp") or raw.get("eventTime"))
    )
    set_if(
        record,
        "last_timestamp",
        rfc3339_utc(raw.get("lastTimestamp") or series.get("lastObservedTime")),
    )
    record["count"] = raw.get("count") or series.get("count") or 1
    return record


def _involved_object(ref: Mapping[str, Any]) -> Record:
    record: Record = {"kind": ref.get("kind", ""), "name": ref.get("name", "")}
    set_if(record, "namespace", ref.get("namespace"))
    set_if(record, "uid", ref.get("uid"))
    return record


def _source(raw: RawObject) -> Record:
    source: Mapping[str, Any] = raw.get("source") or {}
    record: Record = {}
    set_if(record, "component", source.get("component") or raw.get("reportingComponent"))
    set_if(record, "host", source.get("host") or raw.get("reportingInstance"))
    return record


class InvolvedObjectSchema(LenientSchema):
    kind = optional_string()
    name = optional_string()
    namespace = optional_string()
    uid = optional_string()


class EventSourceSchema(LenientSchema):
    component = optional_string()
    host = optional_string()


class EventSchema(NamespacedRecordSchema):
    type = optional_string()
    reason = optional_string()
    message = optional_string()
    involved_object = nested(InvolvedObjectSchema)
    source = nested(EventSourceSchema)
    first_timestamp = optional_string()
    last_timestamp = optional_string()
    count = optional_integer()


EVENT = ResourceKind(
    kind="Event",
    group="",
    version="v1",
    plural="events",
    namespaced=True,
    snapshot_key="events",
    extract=extract_event,
    schema=EventSchema,
    display=DisplayHints(
        category="Events",
        columns=(
            Column("last_timestamp", "time", label="last seen"),
            "namespace",
            Column("type", "status", good=("Normal",), bad=("Warning",)),
            "reason",
            "involved_object.kind",
            "involved_object.name",
            "message",
        ),
        status_field="type",
    ),
)
