"""Parsing and validating the agent bodies of CONTRACT.md section 2."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hostile_json import json_values, nested
from hypothesis import given, settings
from hypothesis import strategies as st

from obsyk_core.hashing import content_hash
from obsyk_core.kinds import KindRegistry
from obsyk_core.limits import (
    MAX_CHUNK,
    MAX_INTEGER,
    MAX_NESTING,
    TOO_DEEP_MESSAGE,
    UNADDRESSABLE_MESSAGE,
)
from obsyk_core.storage import ChangeType
from obsyk_core.wire import BodyError, parse_events, parse_heartbeat, parse_snapshot
from obsyk_plugins.core_kinds.testing.samples import sample_object

UPSTREAM_ARRAYS = [
    "namespaces",
    "pods",
    "services",
    "nodes",
    "deployments",
    "statefulsets",
    "daemonsets",
    "jobs",
    "cronjobs",
    "ingresses",
    "network_policies",
    "configmaps",
    "secrets",
    "pvcs",
    "service_accounts",
    "roles",
    "cluster_roles",
    "role_bindings",
    "cluster_role_bindings",
    "events",
]


def upstream_snapshot(kinds: KindRegistry) -> dict[str, Any]:
    """A snapshot as the upstream Go operator sends it: all twenty arrays, one record each."""
    body: dict[str, Any] = {
        "cluster_uid": "0f4c6a2e-kube-system",
        "cluster_name": "prod-eu",
        "agent_version": "dev",
    }
    for key in UPSTREAM_ARRAYS:
        kind = kinds.by_snapshot_key(key)
        body[key] = [kind.extract(sample_object(kind.kind))]
    return body


def errors_of(call: Any, *args: Any) -> dict[str, list[str]]:
    with pytest.raises(BodyError) as caught:
        call(*args)
    return caught.value.errors


# --------------------------------------------------------------------------- snapshot


def test_upstream_snapshot_with_all_twenty_arrays(kinds: KindRegistry) -> None:
    body = upstream_snapshot(kinds)
    snapshot = parse_snapshot(body, kinds)
    assert snapshot.cluster_uid == "0f4c6a2e-kube-system"
    assert (snapshot.cluster_name, snapshot.agent_version) == ("prod-eu", "dev")
    assert snapshot.kubernetes_version is None and snapshot.platform is None
    assert not snapshot.chunked and snapshot.final
    assert len(snapshot.resources) == 20
    pods = snapshot.resources["Pod"]
    assert len(pods) == 1
    assert pods[0].record == body["pods"][0]
    assert pods[0].content_hash == content_hash(body["pods"][0])
    assert pods[0].namespace == "payments"
    assert snapshot.resources["Node"][0].namespace is None
    claims = snapshot.resources["PersistentVolumeClaim"]
    assert claims[0].uid == body["pvcs"][0]["uid"]


def test_empty_array_carries_the_kind_and_absent_array_does_not(kinds: KindRegistry) -> None:
    snapshot = parse_snapshot({"cluster_uid": "c", "pods": [], "nodes": []}, kinds)
    assert snapshot.resources == {"Pod": [], "Node": []}


def test_record_errors_are_reported_by_path_all_at_once(kinds: KindRegistry) -> None:
    body = upstream_snapshot(kinds)
    good_pod = body["pods"][0]
    body["pods"] = [good_pod, good_pod, good_pod, {**good_pod, "uid": None}]
    body["services"] = [{"uid": "s1"}]
    errors = errors_of(parse_snapshot, body, kinds)
    assert set(errors) == {"pods.3.uid", "services.0.name"}


def test_unknown_array_is_rejected_by_name(kinds: KindRegistry) -> None:
    errors = errors_of(parse_snapshot, {"cluster_uid": "c", "pods": [], "widgets": []}, kinds)
    assert list(errors) == ["widgets"]
    assert "No installed plugin declares" in errors["widgets"][0]


def test_unknown_arrays_and_event_kinds_are_skipped_into_ignored_kinds_when_asked(
    kinds: KindRegistry,
) -> None:
    ignored: set[str] = set()
    body = {"cluster_uid": "c", "pods": [], "certificates": [{"uid": "x"}], "gizmos": []}

    snapshot = parse_snapshot(body, kinds, ignored_kinds=ignored)

    assert set(snapshot.resources) == {"Pod"} and ignored == {"certificates", "gizmos"}
    events_ignored: set[str] = set()
    batch = {
        "cluster_uid": "c",
        "events": [
            {"type": "deleted", "kind": "Pod", "uid": "p", "name": "p"},
            {"type": "whatever", "kind": "Certificate", "uid": 1},
        ],
    }
    _, events = parse_events(batch, kinds, ignored_kinds=events_ignored)
    assert [e.kind for e in events] == ["Pod"] and events_ignored == {"Certificate"}
    single = {"cluster_uid": "c", "type": "added", "kind": "Certificate", "uid": "x", "name": "x"}
    assert parse_events(single, kinds, ignored_kinds=events_ignored) == ("c", [])
    # Without the set, the same bodies are refused, naming what is unknown.
    with pytest.raises(BodyError) as caught:
        parse_events(single, kinds)
    assert "No installed plugin declares" in caught.value.errors["kind"][0]


def test_plugin_kind_array_is_accepted(certificate_only: KindRegistry) -> None:
    body = {
        "cluster_uid": "c",
        "certificates": [{"uid": "cert-1", "name": "api-tls", "namespace": "payments"}],
    }
    snapshot = parse_snapshot(body, certificate_only)
    assert [item.uid for item in snapshot.resources["Certificate"]] == ["cert-1"]
    bad = {"cluster_uid": "c", "certificates": [{"uid": "cert-1", "name": "x", "ready": "yes"}]}
    assert set(errors_of(parse_snapshot, bad, certificate_only)) == {"certificates.0.ready"}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ([], "_body"),
        ("snapshot", "_body"),
        ({"pods": []}, "cluster_uid"),
        ({"cluster_uid": 42}, "cluster_uid"),
        ({"cluster_uid": ""}, "cluster_uid"),
        ({"cluster_uid": "c", "cluster_name": ["prod"]}, "cluster_name"),
        ({"cluster_uid": "c", "pods": {"uid": "p"}}, "pods"),
        ({"cluster_uid": "c", "pods": [[]]}, "pods.0._schema"),
        ({"cluster_uid": "c", "snapshot_id": "s", "chunk": -1}, "chunk"),
        ({"cluster_uid": "c", "snapshot_id": "s", "chunk": "1"}, "chunk"),
        ({"cluster_uid": "c", "snapshot_id": "s", "chunk": 0, "final": "yes"}, "final"),
        ({"cluster_uid": "c", "snapshot_id": "s"}, "chunk"),
        ({"cluster_uid": "c", "chunk": 0}, "snapshot_id"),
    ],
)
def test_wrongly_typed_top_level_fields_are_rejected(
    kinds: KindRegistry, body: Any, path: str
) -> None:
    assert path in errors_of(parse_snapshot, body, kinds)


def test_chunk_fields_are_parsed(kinds: KindRegistry) -> None:
    body = {"cluster_uid": "c", "snapshot_id": "snap-7", "chunk": 2, "final": False, "pods": []}
    snapshot = parse_snapshot(body, kinds)
    assert snapshot.chunked
    assert (snapshot.snapshot_id, snapshot.chunk, snapshot.final) == ("snap-7", 2, False)


def test_body_error_message_names_the_first_path(kinds: KindRegistry) -> None:
    with pytest.raises(BodyError, match=r"^cluster_uid: .*\(and 1 more\)$"):
        parse_snapshot({"pods": "nope"}, kinds)


# --------------------------------------------------------------------------- events


def pod_record(kinds: KindRegistry) -> dict[str, Any]:
    return kinds.by_kind("Pod").extract(sample_object("Pod"))


def test_single_upstream_event(kinds: KindRegistry) -> None:
    record = pod_record(kinds)
    body = {
        "cluster_uid": "c",
        "type": "added",
        "kind": "Pod",
        "uid": record["uid"],
        "name": record["name"],
        "namespace": record["namespace"],
        "object": record,
    }
    cluster_uid, events = parse_events(body, kinds)
    assert cluster_uid == "c"
    [event] = events
    assert (event.type, event.kind, event.uid) == (ChangeType.ADDED, "Pod", record["uid"])
    assert event.resource is not None and event.resource.record == record
    assert event.resource_version is None and event.seq is None


@pytest.mark.parametrize("object_field", [{}, {"object": None}])
def test_deleted_event_without_object(kinds: KindRegistry, object_field: dict[str, Any]) -> None:
    body = {"cluster_uid": "c", "type": "deleted", "kind": "Node", "uid": "n1", "name": "worker-1"}
    _, [event] = parse_events({**body, **object_field}, kinds)
    assert event.type is ChangeType.DELETED
    assert event.resource is None and event.namespace is None


def test_batch_with_ordering_extensions(kinds: KindRegistry) -> None:
    record = pod_record(kinds)
    base = {"kind": "Pod", "uid": record["uid"], "name": record["name"], "namespace": "payments"}
    body = {
        "cluster_uid": "c",
        "events": [
            {**base, "type": "modified", "object": record, "resource_version": "1042", "seq": 7},
            {**base, "type": "deleted", "cluster_uid": "c", "resource_version": 1043, "seq": 8},
            {**base, "type": "modified", "object": record, "resource_version": "opaque-v2"},
        ],
    }
    _, events = parse_events(body, kinds)
    assert [(e.type, e.resource_version, e.seq) for e in events] == [
        (ChangeType.MODIFIED, 1042, 7),
        (ChangeType.DELETED, 1043, 8),
        (ChangeType.MODIFIED, None, None),
    ]


def test_event_errors_by_path(kinds: KindRegistry) -> None:
    record = pod_record(kinds)
    base = {"kind": "Pod", "uid": record["uid"], "name": record["name"]}
    body = {
        "cluster_uid": "c",
        "events": [
            {**base, "type": "added", "object": record},
            {**base, "type": "created", "object": record},
            {**base, "type": "added"},
            {**base, "type": "added", "object": {**record, "uid": "other"}},
            {**base, "type": "deleted", "kind": "Widget"},
            {**base, "type": "deleted", "cluster_uid": "another-cluster"},
            {**base, "type": "added", "object": {**record, "name": None}},
            "not an object",
        ],
    }
    errors = errors_of(parse_events, body, kinds)
    assert set(errors) == {
        "events.1.type",
        "events.2.object",
        "events.3.object.uid",
        "events.4.kind",
        "events.5.cluster_uid",
        "events.6.object.name",
        "events.7",
    }


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"cluster_uid": "c", "events": []}, "events"),
        ({"cluster_uid": "c", "events": {"type": "added"}}, "events"),
        ({"events": [{"type": "deleted", "kind": "Pod", "uid": "p", "name": "p"}]}, "cluster_uid"),
        # A single event valid but for its cluster_uid (the fast path must not take it).
        ({"type": "deleted", "kind": "Pod", "uid": "p", "name": "p"}, "cluster_uid"),
        (
            {"cluster_uid": "", "type": "deleted", "kind": "Pod", "uid": "p", "name": "p"},
            "cluster_uid",
        ),
        (
            {"cluster_uid": 7, "type": "deleted", "kind": "Pod", "uid": "p", "name": "p"},
            "cluster_uid",
        ),
        ({"cluster_uid": "c", "type": "deleted", "kind": "Pod", "name": "p"}, "uid"),
        ({"cluster_uid": "c", "type": "deleted", "kind": "Pod", "uid": "p", "name": 3}, "name"),
        (
            {
                "cluster_uid": "c",
                "type": "deleted",
                "kind": "Pod",
                "uid": "p",
                "name": "p",
                "seq": "1",
            },
            "seq",
        ),
    ],
)
def test_malformed_events_are_rejected(kinds: KindRegistry, body: Any, path: str) -> None:
    assert path in errors_of(parse_events, body, kinds)


# --------------------------------------------------------------------------- heartbeat


def test_upstream_heartbeat() -> None:
    heartbeat = parse_heartbeat({"cluster_uid": "c", "agent_version": "v0.3.1"})
    assert (heartbeat.cluster_uid, heartbeat.agent_version) == ("c", "v0.3.1")
    assert heartbeat.counts is None and heartbeat.digests is None


def test_heartbeat_kinds_extension_says_what_the_operator_watches_and_skips() -> None:
    states = {"Pod": "watched", "ScaledObject": "not_served", "Secret": "forbidden"}
    heartbeat = parse_heartbeat({"cluster_uid": "c", "kinds": states})

    assert heartbeat.kinds == states
    assert parse_heartbeat({"cluster_uid": "c"}).kinds is None
    with pytest.raises(BodyError) as caught:
        parse_heartbeat({"cluster_uid": "c", "kinds": {"Pod": "sleeping"}})
    assert list(caught.value.errors) == ["kinds"]


def test_heartbeat_with_drift_extension() -> None:
    heartbeat = parse_heartbeat(
        {"cluster_uid": "c", "counts": {"Pod": 812}, "digests": {"Pod": "ab" * 32}}
    )
    assert heartbeat.counts == {"Pod": 812}
    assert heartbeat.digests == {"Pod": "ab" * 32}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (None, "_body"),
        ({}, "cluster_uid"),
        ({"cluster_uid": "c", "agent_version": 3}, "agent_version"),
        ({"cluster_uid": "c", "counts": {"Pod": True}}, "counts"),
        ({"cluster_uid": "c", "counts": [1]}, "counts"),
        ({"cluster_uid": "c", "digests": {"Pod": 1}}, "digests"),
    ],
)
def test_malformed_heartbeats_are_rejected(body: Any, path: str) -> None:
    assert path in errors_of(parse_heartbeat, body)


# --------------------------------------------------------------- hostile values never escape


_FIELDS = ("uid", "name", "namespace", "labels", "extra", "containers", "phase")
_WRAPPER = ("chunk", "snapshot_id", "final", "cluster_uid", "resource_version", "seq")


@settings(max_examples=300, deadline=None, database=None)
@given(
    record=st.dictionaries(st.sampled_from(_FIELDS), json_values, max_size=4),
    wrapper=st.dictionaries(st.sampled_from(_WRAPPER), json_values, max_size=3),
)
def test_json_values_are_a_body_error_or_a_storable_record(
    kinds: KindRegistry, record: dict[str, Any], wrapper: dict[str, Any]
) -> None:
    """Whatever arrives, parsing either refuses it by path or yields records that hash."""
    record = {"uid": "u1", "name": "n", "namespace": "default", **record}
    bodies = [
        ({"cluster_uid": "c", "pods": [record], **wrapper}, parse_snapshot),
        (
            {"cluster_uid": "c", "type": "added", "kind": "Pod", "object": record, **wrapper},
            parse_events,
        ),
    ]
    for body, parse in bodies:
        try:
            parsed = parse(body, kinds)  # type: ignore[operator]
        except BodyError as error:
            assert error.errors and all(isinstance(path, str) for path in error.errors)
            continue
        if parse is parse_snapshot:
            chunk = parsed.chunk
            assert chunk is None or 0 <= chunk <= MAX_CHUNK
            resources = [r for rs in parsed.resources.values() for r in rs]
        else:
            resources = [e.resource for e in parsed[1] if e.resource is not None]
            for change in parsed[1]:
                rv = change.resource_version
                assert rv is None or -MAX_INTEGER <= rv <= MAX_INTEGER
        for resource in resources:
            assert resource.content_hash == content_hash(resource.record)


def test_a_record_nested_deeper_than_the_hash_serializes_is_refused_by_path(
    certificate_only: KindRegistry,
) -> None:
    def certificate(uid: str, depth: int) -> dict[str, Any]:
        return {"uid": uid, "name": uid, "namespace": "a", "spec": nested(depth)}

    fits, too_deep = certificate("c1", MAX_NESTING - 1), certificate("c2", MAX_NESTING + 1)
    snapshot = parse_snapshot({"cluster_uid": "c", "certificates": [fits]}, certificate_only)
    assert snapshot.resources["Certificate"][0].record == fits
    body = {"cluster_uid": "c", "certificates": [fits, too_deep]}
    with pytest.raises(BodyError) as refused:
        parse_snapshot(body, certificate_only)
    assert refused.value.errors == {"certificates.1": [TOO_DEEP_MESSAGE]}
    single = {"cluster_uid": "c", "type": "added", "kind": "Certificate", "uid": "c2"}
    with pytest.raises(BodyError) as refused:
        parse_events({**single, "name": "c2", "object": too_deep}, certificate_only)
    assert refused.value.errors == {"object": [TOO_DEEP_MESSAGE]}


def test_fields_the_schema_does_not_declare_are_dropped_and_counted(
    certificate_only: KindRegistry,
) -> None:
    record = {"uid": "c1", "name": "c1", "spec": {"any": ["thing"]}, "data": {"k": "v"}}
    dropped: Counter[str] = Counter()
    body = {"cluster_uid": "c", "certificates": [record, {**record, "uid": "c2"}]}
    snapshot = parse_snapshot(body, certificate_only, dropped_fields=dropped)
    stored = [resource.record for resource in snapshot.resources["Certificate"]]
    assert stored == [
        {"uid": uid, "name": "c1", "spec": {"any": ["thing"]}} for uid in ("c1", "c2")
    ]
    assert dropped == {"Certificate.data": 2}


@pytest.mark.parametrize("uid", [".", ".."])
def test_a_uid_no_url_path_can_name_is_refused(kinds: KindRegistry, uid: str) -> None:
    """``/resources/..`` would name the parent path: such a uid could never be read back."""
    record = {"uid": uid, "name": "web", "namespace": "a"}
    with pytest.raises(BodyError) as refused:
        parse_snapshot({"cluster_uid": "c", "pods": [record]}, kinds)
    assert refused.value.errors == {"pods.0.uid": [UNADDRESSABLE_MESSAGE]}
    single = {"cluster_uid": "c", "type": "added", "kind": "Pod", "uid": uid, "name": "web"}
    with pytest.raises(BodyError) as refused:
        parse_events({**single, "object": record}, kinds)
    assert refused.value.errors == {"uid": [UNADDRESSABLE_MESSAGE]}
    with pytest.raises(BodyError) as refused:
        parse_events({**single, "type": "deleted"}, kinds)
    assert refused.value.errors == {"uid": [UNADDRESSABLE_MESSAGE]}
    assert parse_snapshot({"cluster_uid": "c", "pods": [{**record, "uid": "..a"}]}, kinds)
