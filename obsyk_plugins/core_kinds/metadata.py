"""The metadata projection every core kind shares, and the annotation filter.

Extractors run on every object of every watched kind (100k objects on a big
cluster), so this is plain dict access on the parsed JSON: no model classes,
no copies beyond the small dicts the record keeps.

Annotation filter (CONTRACT.md section 4): an annotation is dropped when its
key's prefix (the part before ``/``) is ``kubernetes.io`` or ends in
``.kubernetes.io``.  That covers the two prefixes upstream drops
(``kubectl.kubernetes.io/``, whose ``last-applied-configuration`` can embed a
whole Secret, and ``kubernetes.io/``) and also their subdomains
(``deployment.kubernetes.io/revision``, ``pv.kubernetes.io/...``,
``control-plane.alpha.kubernetes.io/leader``).  Those are written by
Kubernetes itself, are noise in an inventory, and some (leader records, bind
state) change constantly; dropping the whole family is the safe reading of the
rule.  ``managedFields`` is never read, so it can never leave.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from obsyk_core.kinds import Column, RawObject, Record

#: The table column every kind with metadata shows last: when the object was created.
CREATED = Column("k8s_created_at", "time", label="created")

_DROPPED_DOMAIN = "kubernetes.io"
_DROPPED_SUFFIX = ".kubernetes.io"
#: The shape the API server writes (``metav1.Time``); ``fromisoformat`` also takes
#: looser forms (basic format, a bare date) that must be normalised, not passed on.
_CANONICAL_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")


def is_dropped_annotation(key: str) -> bool:
    """True for annotations Kubernetes itself writes under the ``kubernetes.io`` domain family."""
    prefix, slash, _ = key.partition("/")
    if not slash:
        return False
    return prefix == _DROPPED_DOMAIN or prefix.endswith(_DROPPED_SUFFIX)


def filter_annotations(annotations: Mapping[str, str] | None) -> dict[str, str]:
    """The annotations that may leave the cluster (possibly none)."""
    if not annotations:
        return {}
    return {k: v for k, v in annotations.items() if not is_dropped_annotation(k)}


def rfc3339_utc(value: Any) -> str | None:
    """A Kubernetes timestamp as RFC 3339 in UTC with ``Z``, or ``None`` when absent or invalid.

    The API server already writes ``2024-05-01T10:00:00Z``; once it parses, that
    common shape is returned untouched.  Anything else (an offset, a naive time
    from a hand-written object) is normalised.  An unparseable value, even one
    ending in ``Z``, is dropped: every field that uses this is optional, and one
    malformed object must not put garbage in the inventory.
    """
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if _CANONICAL_UTC.fullmatch(value):
            return value
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except (ValueError, OverflowError):  # OverflowError: an offset pushing it past year 1
        return None


def base_record(raw: RawObject, *, namespaced: bool) -> Record:
    """The fields CONTRACT.md section 4 gives every kind but Event.

    ``uid``, ``name``, ``namespace`` (namespaced kinds only), ``labels?``,
    ``annotations?`` (filtered) and ``k8s_created_at?``.
    """
    meta: Mapping[str, Any] = raw.get("metadata") or {}
    record: Record = {"uid": meta.get("uid", ""), "name": meta.get("name", "")}
    if namespaced:
        record["namespace"] = meta.get("namespace", "")
    labels = meta.get("labels")
    if labels:
        record["labels"] = dict(labels)
    annotations = filter_annotations(meta.get("annotations"))
    if annotations:
        record["annotations"] = annotations
    created = rfc3339_utc(meta.get("creationTimestamp"))
    if created:
        record["k8s_created_at"] = created
    owners = owner_references(meta.get("ownerReferences"))
    if owners:
        record["owner_references"] = owners
    return record


def owner_references(owners: Any) -> list[Record]:
    """The object's owners, ``{kind, name, uid, controller}`` each (extension: upstream sends none).

    With them the platform follows a Pod to its ReplicaSet and Deployment by uid
    instead of guessing from names and labels.
    """
    if not owners:
        return []
    return [
        {
            "kind": owner.get("kind", ""),
            "name": owner.get("name", ""),
            "uid": owner.get("uid", ""),
            "controller": bool(owner.get("controller")),
        }
        for owner in owners
        if isinstance(owner, Mapping)
    ]


def set_if(record: Record, key: str, value: Any) -> None:
    """Set ``record[key]`` only for a non-empty value: the contract's ``?`` (omitempty) fields."""
    if value:
        record[key] = value


def match_labels(selector: Mapping[str, Any] | None) -> dict[str, str]:
    """``matchLabels`` of a label selector (upstream sends only these, not ``matchExpressions``)."""
    if not selector:
        return {}
    labels = selector.get("matchLabels")
    return dict(labels) if labels else {}


def first_container_image(pod_template: Mapping[str, Any] | None) -> str:
    """The image of a workload's first container: the "image" column upstream shows."""
    containers = ((pod_template or {}).get("spec") or {}).get("containers") or ()
    return str(containers[0].get("image", "")) if containers else ""
