"""What needs attention in the inventory: the rules, over the CONTRACT.md records.

A resource needs attention when

* a Pod has a container waiting in ``CrashLoopBackOff``, ``ImagePullBackOff``
  or ``ErrImagePull`` (the container ``reason``, our operator's extension), has
  failed, has been ``Pending`` longer than ``pending_after``, or runs with a
  container not ready;
* a Node is not ``Ready``;
* a Deployment or StatefulSet has fewer ready replicas than desired, or a
  DaemonSet fewer ready pods than scheduled;
* an Event of type ``Warning`` was last seen at or after ``warnings_since``.

:meth:`obsyk_core.storage.Storage.attention` answers with these rules; a
backend that can evaluates them in its database (the SQL backend on
PostgreSQL), the default here reads only the fields they need
(:data:`FIELDS`).  Both must agree: the conformance suite checks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

#: Container reasons that mean a pod cannot run.
CONTAINER_REASONS = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull")
#: Kinds the rules look at.
KINDS = ("Pod", "Node", "Deployment", "StatefulSet", "DaemonSet", "Event")
#: Record fields the rules read.
FIELDS = (
    "phase",
    "containers",
    "init_containers",
    "k8s_created_at",
    "status",
    "replicas",
    "ready_replicas",
    "desired_number_scheduled",
    "number_ready",
    "type",
    "reason",
    "message",
    "last_timestamp",
)


@dataclass(frozen=True, slots=True)
class AttentionRules:
    """The moments the rules compare against (timezone-aware UTC)."""

    #: A Pod created before this and still Pending needs attention.
    pending_before: datetime
    #: Warning Events last seen at or after this need attention.
    warnings_since: datetime

    @classmethod
    def at(
        cls,
        now: datetime,
        *,
        pending_after: timedelta = timedelta(minutes=5),
        warnings_for: timedelta = timedelta(hours=1),
    ) -> AttentionRules:
        return cls(pending_before=now - pending_after, warnings_since=now - warnings_for)


@dataclass(frozen=True, slots=True)
class AttentionItem:
    cluster_id: str
    uid: str
    kind: str
    namespace: str | None
    name: str
    #: ``CrashLoopBackOff``, ``ImagePullBackOff``, ``ErrImagePull``, ``Failed``,
    #: ``Pending``, ``NotReady``, ``BelowDesired`` or ``Warning``.
    reason: str
    #: A short human explanation ("1 of 3 ready", an Event's reason and message).
    detail: str


def attention_reason(
    kind: str, record: Mapping[str, Any], rules: AttentionRules
) -> tuple[str, str] | None:
    """``(reason, detail)`` when a live resource of ``kind`` needs attention, else ``None``."""
    check = _CHECKS.get(kind)
    return check(record, rules) if check is not None else None


def _pod(record: Mapping[str, Any], rules: AttentionRules) -> tuple[str, str] | None:
    containers = [
        c
        for key in ("containers", "init_containers")
        for c in (record.get(key) or ())
        if isinstance(c, Mapping)
    ]
    for container in containers:
        if container.get("reason") in CONTAINER_REASONS:
            return str(container["reason"]), f"container {container.get('name', '')}"
    phase = record.get("phase")
    if phase == "Failed":
        return "Failed", "the pod failed"
    if phase == "Pending":
        created = _time(record.get("k8s_created_at"))
        if created is not None and created < rules.pending_before:
            return "Pending", f"pending since {record.get('k8s_created_at')}"
        return None
    if phase == "Running":
        main = [c for c in record.get("containers") or () if isinstance(c, Mapping)]
        not_ready = [c for c in main if c.get("ready") is False]
        if not_ready:
            return "NotReady", f"{len(main) - len(not_ready)} of {len(main)} containers ready"
    return None


def _node(record: Mapping[str, Any], rules: AttentionRules) -> tuple[str, str] | None:
    status = record.get("status")
    return None if status == "Ready" else ("NotReady", f"node status {status or 'unknown'}")


def _replicas(ready_field: str, desired_field: str) -> Any:
    def check(record: Mapping[str, Any], rules: AttentionRules) -> tuple[str, str] | None:
        ready, desired = _count(record.get(ready_field)), _count(record.get(desired_field))
        return ("BelowDesired", f"{ready} of {desired} ready") if ready < desired else None

    return check


def _event(record: Mapping[str, Any], rules: AttentionRules) -> tuple[str, str] | None:
    if record.get("type") != "Warning":
        return None
    seen = _time(record.get("last_timestamp"))
    if seen is None or seen < rules.warnings_since:
        return None
    return "Warning", f"{record.get('reason') or ''}: {record.get('message') or ''}"


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


_CHECKS = {
    "Pod": _pod,
    "Node": _node,
    "Deployment": _replicas("ready_replicas", "replicas"),
    "StatefulSet": _replicas("ready_replicas", "replicas"),
    "DaemonSet": _replicas("number_ready", "desired_number_scheduled"),
    "Event": _event,
}
