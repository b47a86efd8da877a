"""Parse and validate the agent bodies of CONTRACT.md section 2.

Every problem is reported at once, by path (``pods.3.uid``,
``events.0.type``), so a 422 tells the operator's author everything wrong with
a body in one answer.  Nothing here touches storage: a body that fails
validation writes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from obsyk_core.ingest import IncomingResource, ResourceEvent, parse_resource_version
from obsyk_core.kinds import KindRegistry, ResourceKind
from obsyk_core.limits import (
    MAX_CHUNK,
    TOO_DEEP_MESSAGE,
    UNADDRESSABLE,
    UNADDRESSABLE_MESSAGE,
    too_deep,
)
from obsyk_core.record_trim import trim_record
from obsyk_core.storage import ChangeType

_CHANGE_TYPES = frozenset(change.value for change in ChangeType)
#: ``ChangeType(value)`` goes through the enum's lookup machinery; a dict does not.
_CHANGE_BY_VALUE: dict[str, ChangeType] = {change.value: change for change in ChangeType}
#: The heartbeat's ``kinds`` extension: a kind the operator lists and watches,
#: one whose API the cluster does not serve (CRD absent), one RBAC forbids.
KIND_STATES = ("watched", "not_served", "forbidden")
_SNAPSHOT_META_STRINGS = (
    "cluster_name",
    "kubernetes_version",
    "platform",
    "region",
    "agent_version",
    "snapshot_id",
)


class BodyError(ValueError):
    """A body that can never be accepted; ``errors`` maps each bad path to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        first = next(iter(errors.items()))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first[0]}: {first[1][0]}{more}")


@dataclass(slots=True)
class Snapshot:
    cluster_uid: str
    cluster_name: str | None
    agent_version: str | None
    kubernetes_version: str | None
    platform: str | None
    region: str | None
    #: Carried kinds (by kind name) and their records; absent kinds are not here.
    resources: dict[str, list[IncomingResource]] = field(default_factory=dict)
    snapshot_id: str | None = None
    chunk: int | None = None
    final: bool = True

    @property
    def chunked(self) -> bool:
        return self.snapshot_id is not None


@dataclass(slots=True)
class Heartbeat:
    cluster_uid: str
    agent_version: str | None
    counts: dict[str, int] | None
    digests: dict[str, str] | None
    #: Extension: what the operator watches and what it skipped, by kind name.
    kinds: dict[str, str] | None = None


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def merge(self, prefix: str, nested: Mapping[Any, Any]) -> None:
        """Flatten marshmallow's nested error dict under ``prefix``."""
        for key, value in nested.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, Mapping):
                self.merge(path, value)
            else:
                for message in value if isinstance(value, list) else [value]:
                    self.add(path, str(message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise BodyError(self.errors)


def _require_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise BodyError({"_body": ["must be a JSON object"]})
    return body


def _string(errors: _Errors, body: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            errors.add(key, "Missing data for required field.")
        return None
    if not isinstance(value, str) or (required and not value):
        errors.add(
            key, "Not a valid string." if not isinstance(value, str) else "Must not be empty."
        )
        return None
    return value


def parse_snapshot(
    body: Any,
    kinds: KindRegistry,
    *,
    ignored_kinds: set[str] | None = None,
    dropped_fields: Counter[str] | None = None,
) -> Snapshot:
    """Validate a snapshot (or one chunk of it) and return its parsed form.

    An array under a key no installed plugin declares is an error, unless
    ``ignored_kinds`` is given: then the array is skipped and its key added
    to the set, for the caller to report (CONTRACT.md, "plugin kinds": an
    operator newer than the platform must not lose the whole snapshot).

    Each record is kept as its kind's schema describes (:mod:`obsyk_core.record_trim`);
    what was dropped is counted in ``dropped_fields`` by ``Kind.field.path``.
    """
    body = _require_object(body)
    dropped = Counter[str]() if dropped_fields is None else dropped_fields
    errors = _Errors()
    cluster_uid = _string(errors, body, "cluster_uid", required=True)
    meta = {key: _string(errors, body, key, required=False) for key in _SNAPSHOT_META_STRINGS}
    chunk = body.get("chunk")
    if chunk is not None and (
        not isinstance(chunk, int) or isinstance(chunk, bool) or not 0 <= chunk <= MAX_CHUNK
    ):
        errors.add("chunk", f"Must be an integer from 0 to {MAX_CHUNK}.")
    final = body.get("final", True)
    if not isinstance(final, bool):
        errors.add("final", "Not a valid boolean.")
    if meta["snapshot_id"] is None and (chunk is not None or "final" in body):
        errors.add("snapshot_id", "Required when chunk or final is given.")
    if meta["snapshot_id"] is not None and chunk is None:
        errors.add("chunk", "Required when snapshot_id is given.")

    known = set(_SNAPSHOT_META_STRINGS) | {"cluster_uid", "chunk", "final"}
    resources: dict[str, list[IncomingResource]] = {}
    for key, items in body.items():
        if key in known:
            continue
        kind = kinds.get_by_snapshot_key(key)
        if kind is None:
            if ignored_kinds is not None and isinstance(items, list):
                ignored_kinds.add(key)
            else:
                errors.add(key, "No installed plugin declares this resource array.")
            continue
        if not isinstance(items, list):
            errors.add(key, "Not a valid list.")
            continue
        parsed = resources[kind.kind] = []
        for index, record in enumerate(items):
            problems = kind.validate(record)
            if problems:
                errors.merge(f"{key}.{index}", problems)
                continue
            if record["uid"] in UNADDRESSABLE:
                errors.add(f"{key}.{index}.uid", UNADDRESSABLE_MESSAGE)
                continue
            resource = _incoming(kind, record, dropped)
            if resource is None:
                errors.add(f"{key}.{index}", TOO_DEEP_MESSAGE)
            else:
                parsed.append(resource)
    errors.raise_if_any()
    assert cluster_uid is not None
    return Snapshot(
        cluster_uid=cluster_uid,
        cluster_name=meta["cluster_name"],
        agent_version=meta["agent_version"],
        kubernetes_version=meta["kubernetes_version"],
        platform=meta["platform"],
        region=meta["region"],
        resources=resources,
        snapshot_id=meta["snapshot_id"],
        chunk=chunk,
        final=final if isinstance(final, bool) else True,
    )


def parse_events(
    body: Any,
    kinds: KindRegistry,
    *,
    ignored_kinds: set[str] | None = None,
    dropped_fields: Counter[str] | None = None,
) -> tuple[str, list[ResourceEvent]]:
    """Validate a single event (upstream) or a batch (``{"events": [...]}``).

    Returns the cluster uid and the events; every event of a batch must name
    the same cluster.  An event of a kind no installed plugin declares is an
    error, unless ``ignored_kinds`` is given: then it is left out, unchecked
    beyond its ``kind``, and the kind name added to the set.  Objects are trimmed
    and counted in ``dropped_fields`` as :func:`parse_snapshot`'s records are.
    """
    dropped = Counter[str]() if dropped_fields is None else dropped_fields
    if type(body) is dict and "events" not in body:
        single = _plain_single_event(body, kinds, dropped)
        if single is not None:
            return single
    body = _require_object(body)
    errors = _Errors()
    cluster_uid = _string(errors, body, "cluster_uid", required=True)
    if "events" in body:
        raw_events = body["events"]
        if not isinstance(raw_events, list):
            errors.add("events", "Not a valid list.")
            raw_events = []
        elif not raw_events:
            errors.add("events", "Must contain at least one event.")
        prefix = "events."
    else:
        raw_events = [body]
        prefix = ""
    events = []
    for index, raw in enumerate(raw_events):
        path = f"{prefix}{index}." if prefix else ""
        if not isinstance(raw, Mapping):
            errors.add(path.rstrip(".") or "_body", "Must be a JSON object.")
            continue
        if prefix and raw.get("cluster_uid") not in (None, cluster_uid):
            errors.add(f"{path}cluster_uid", "Differs from the batch's cluster_uid.")
        if ignored_kinds is not None and _of_unknown_kind(raw, kinds):
            ignored_kinds.add(raw["kind"])
            continue
        event = _parse_event(raw, kinds, errors, path, dropped)
        if event is not None:
            events.append(event)
    errors.raise_if_any()
    assert cluster_uid is not None
    return cluster_uid, events


def _of_unknown_kind(raw: Mapping[str, Any], kinds: KindRegistry) -> bool:
    kind_name = raw.get("kind")
    return isinstance(kind_name, str) and bool(kind_name) and kind_name not in kinds


def _plain_single_event(
    body: dict[str, Any], kinds: KindRegistry, dropped: Counter[str]
) -> tuple[str, list[ResourceEvent]] | None:
    """An upstream single event that is plainly valid, else ``None`` (nothing reported).

    Upstream operators send one event per request: this answers what the
    general path would for such a body without its batch bookkeeping; any
    doubt leaves the body to the general path, which words the errors.
    """
    cluster_uid = body.get("cluster_uid")
    if type(cluster_uid) is not str or not cluster_uid:
        return None
    event = _valid_event(body, kinds, dropped)
    return None if event is None else (cluster_uid, [event])


def _parse_event(
    raw: Mapping[str, Any],
    kinds: KindRegistry,
    errors: _Errors,
    path: str,
    dropped: Counter[str],
) -> ResourceEvent | None:
    """The event, or ``None`` with every problem of it added to ``errors`` under ``path``."""
    event = _valid_event(raw, kinds, dropped)
    if event is not None:
        return event
    return _parse_event_reporting(raw, kinds, errors, path, dropped)


def _valid_event(
    raw: Mapping[str, Any], kinds: KindRegistry, dropped: Counter[str]
) -> ResourceEvent | None:
    """The event when every field is plainly valid, else ``None`` (and nothing reported).

    The happy path of a batch: one pass with no error bookkeeping or path
    strings.  Anything doubtful goes through :func:`_parse_event_reporting`,
    the one place that words the errors (a refused body's record is then
    validated twice, which costs only the refused).
    """
    type_value = raw.get("type")
    change = _CHANGE_BY_VALUE.get(type_value) if isinstance(type_value, str) else None
    kind_name = raw.get("kind")
    kind = kinds.get(kind_name) if isinstance(kind_name, str) else None
    uid = raw.get("uid")
    name = raw.get("name")
    namespace = raw.get("namespace")
    resource_version = raw.get("resource_version")
    seq = raw.get("seq")
    if (
        change is None
        or kind is None
        or not isinstance(uid, str)
        or not uid
        or uid in UNADDRESSABLE
        or not isinstance(name, str)
        or not name
        or (namespace is not None and not isinstance(namespace, str))
        or (resource_version is not None and not isinstance(resource_version, str | int))
        or (seq is not None and (not isinstance(seq, int) or isinstance(seq, bool)))
    ):
        return None
    record = raw.get("object")
    resource = None
    if change is not ChangeType.DELETED:
        if record is None or kind.validate(record) or record.get("uid") != uid:
            return None
        resource = _incoming(kind, record, dropped)
        if resource is None:
            return None
    elif record is not None and not isinstance(record, Mapping):
        return None
    return ResourceEvent(
        type=change,
        kind=kind.kind,
        uid=uid,
        name=name,
        namespace=namespace or None,
        resource=resource,
        resource_version=parse_resource_version(resource_version),
        seq=seq,
    )


def _parse_event_reporting(
    raw: Mapping[str, Any],
    kinds: KindRegistry,
    errors: _Errors,
    path: str,
    dropped: Counter[str],
) -> ResourceEvent | None:
    """:func:`_parse_event` for an event with a problem: every check, each one reported."""
    before = len(errors.errors)
    type_value = raw.get("type")
    change: ChangeType | None = None
    if isinstance(type_value, str) and type_value in _CHANGE_TYPES:
        change = ChangeType(type_value)
    else:
        errors.add(f"{path}type", "Must be one of: added, modified, deleted.")
    kind_name = raw.get("kind")
    kind = kinds.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        message = (
            "Missing data for required field."
            if kind_name is None
            else "No installed plugin declares this kind."
        )
        errors.add(f"{path}kind", message)
    for key in ("uid", "name"):
        value = raw.get(key)
        if not isinstance(value, str) or not value:
            errors.add(
                f"{path}{key}",
                "Missing data for required field." if value is None else "Not a valid string.",
            )
    uid = raw.get("uid")
    if isinstance(uid, str) and uid in UNADDRESSABLE:
        errors.add(f"{path}uid", UNADDRESSABLE_MESSAGE)
    namespace = raw.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        errors.add(f"{path}namespace", "Not a valid string.")
    resource_version = raw.get("resource_version")
    if resource_version is not None and not isinstance(resource_version, str | int):
        errors.add(f"{path}resource_version", "Not a valid string.")
    seq = raw.get("seq")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool)):
        errors.add(f"{path}seq", "Not a valid integer.")
    record = raw.get("object")
    resource = None
    if change is not None and change is not ChangeType.DELETED:
        if record is None:
            errors.add(f"{path}object", "Required for added and modified events.")
        elif kind is not None:
            problems = kind.validate(record)
            if problems:
                errors.merge(f"{path}object", problems)
            elif isinstance(raw.get("uid"), str) and record.get("uid") != raw.get("uid"):
                errors.add(f"{path}object.uid", "Differs from the event's uid.")
            else:
                resource = _incoming(kind, record, dropped)
                if resource is None:
                    errors.add(f"{path}object", TOO_DEEP_MESSAGE)
    elif record is not None and not isinstance(record, Mapping):
        errors.add(f"{path}object", "Not a valid object.")
    if len(errors.errors) != before or change is None or kind is None:
        return None
    return ResourceEvent(
        type=change,
        kind=kind.kind,
        uid=raw["uid"],
        name=raw["name"],
        namespace=namespace or None,
        resource=resource,
        resource_version=parse_resource_version(resource_version),
        seq=seq,
    )


def _incoming(
    kind: ResourceKind, record: Mapping[str, Any], dropped: Counter[str]
) -> IncomingResource | None:
    """The validated record as stored, or ``None`` when it is nested too deep to hash.

    Trimmed to its kind's schema first (counted in ``dropped``).  The
    serializer's own refusal is the depth check (see :mod:`obsyk_core.limits`):
    nothing walks the records that fit.
    """
    record = trim_record(kind.schema, record, dropped, path=f"{kind.kind}.")
    try:
        return IncomingResource.from_record(kind.kind, record)
    except TypeError as error:
        if too_deep(error):
            return None
        raise


def parse_heartbeat(body: Any) -> Heartbeat:
    body = _require_object(body)
    errors = _Errors()
    cluster_uid = _string(errors, body, "cluster_uid", required=True)
    agent_version = _string(errors, body, "agent_version", required=False)
    counts = body.get("counts")
    if counts is not None and not (
        isinstance(counts, Mapping)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in counts.values())
    ):
        errors.add("counts", "Must be an object of kind name to integer.")
    digests = body.get("digests")
    if digests is not None and not (
        isinstance(digests, Mapping) and all(isinstance(v, str) for v in digests.values())
    ):
        errors.add("digests", "Must be an object of kind name to hex string.")
    kinds = body.get("kinds")
    if kinds is not None and not (
        isinstance(kinds, Mapping) and all(v in KIND_STATES for v in kinds.values())
    ):
        errors.add("kinds", f"Must be an object of kind name to one of: {', '.join(KIND_STATES)}.")
    errors.raise_if_any()
    assert cluster_uid is not None
    return Heartbeat(
        cluster_uid=cluster_uid,
        agent_version=agent_version,
        counts=dict(counts) if counts is not None else None,
        digests=dict(digests) if digests is not None else None,
        kinds=dict(kinds) if kinds is not None else None,
    )
