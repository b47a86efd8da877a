"""A change to one object, as the watching layer hands it to the shipping layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ChangeType = Literal["added", "modified", "deleted"]


@dataclass(frozen=True, slots=True)
class Change:
    """One object's new state (``record`` is ``None`` for a delete)."""

    kind: str
    type: ChangeType
    uid: str
    name: str
    namespace: str | None
    record: dict[str, Any] | None
    resource_version: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What the send queue coalesces on: the latest change of an object wins."""
        return (self.kind, self.uid)

    def to_event(self, *, cluster_uid: str, seq: int | None = None) -> dict[str, Any]:
        """The CONTRACT event body (``object`` omitted on delete, as upstream does)."""
        event: dict[str, Any] = {
            "cluster_uid": cluster_uid,
            "type": self.type,
            "kind": self.kind,
            "uid": self.uid,
            "name": self.name,
        }
        if self.namespace:
            event["namespace"] = self.namespace
        if self.record is not None and self.type != "deleted":
            event["object"] = self.record
        if self.resource_version:
            event["resource_version"] = self.resource_version
        if seq is not None:
            event["seq"] = seq
        return event
