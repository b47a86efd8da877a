"""Response shapes of the agent endpoints (requests are validated by ``obsyk_core.wire``).

Upstream operators ignore these bodies; our operator reads ``resync``.
"""

from __future__ import annotations

import marshmallow as ma


class IngestCountsSchema(ma.Schema):
    added = ma.fields.Integer()
    modified = ma.fields.Integer()
    deleted = ma.fields.Integer()
    unchanged = ma.fields.Integer()
    stale = ma.fields.Integer(metadata={"description": "Changes older than the stored state"})


_IGNORED_KINDS = {
    "description": "Snapshot array keys (snapshots) or kind names (events) that no installed "
    "plugin declares: skipped while the rest was stored. Present only when something was skipped."
}
_DROPPED_FIELDS = {
    "description": "Record fields not stored, as `Kind.field.path` (no list indexes) to the "
    "number of values dropped: fields the kind's schema does not declare (a Secret's `data`, "
    "a container's `env`, `managedFields`) and annotations the filter drops. At most 100 "
    "paths. Present only when something was dropped."
}
_ACCEPTED_KINDS = {"description": "The kind names this platform accepts; send only these"}


class SnapshotAcceptedSchema(IngestCountsSchema):
    status = ma.fields.String(
        metadata={"description": "`committed` (applied) or `staged` (202: a job applies it)"}
    )
    snapshot_id = ma.fields.String(metadata={"description": "Staging id (staged only)"})
    chunk = ma.fields.Integer(metadata={"description": "Chunk staged (staged only)"})
    queued = ma.fields.Boolean(
        metadata={
            "description": "The snapshot is complete and queued for reconciliation "
            "(false while the queue is down: recovery applies it later)"
        }
    )
    ignored_kinds = ma.fields.List(ma.fields.String(), metadata=_IGNORED_KINDS)
    dropped_fields = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), metadata=_DROPPED_FIELDS
    )


class EventsAcceptedSchema(IngestCountsSchema):
    status = ma.fields.String(metadata={"description": "`committed`"})
    ignored_kinds = ma.fields.List(ma.fields.String(), metadata=_IGNORED_KINDS)
    dropped_fields = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), metadata=_DROPPED_FIELDS
    )


class HeartbeatAnswerSchema(ma.Schema):
    resync = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "Kinds whose stored state differs from the counts/digests sent"},
    )
    kinds = ma.fields.List(ma.fields.String(), metadata=_ACCEPTED_KINDS)


class AcceptedKindsSchema(ma.Schema):
    kinds = ma.fields.List(ma.fields.String(), metadata=_ACCEPTED_KINDS)
