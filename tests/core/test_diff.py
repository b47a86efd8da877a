"""Record diffs for the history view."""

from __future__ import annotations

from obsyk_core.diff import ABSENT, diff_records


def test_nested_fields_are_reported_by_dotted_path() -> None:
    old = {
        "uid": "d1",
        "replicas": 2,
        "labels": {"app": "api", "tier": "backend"},
        "strategy": "RollingUpdate",
    }
    new = {
        "uid": "d1",
        "replicas": 3,
        "labels": {"app": "api", "team": "payments"},
        "image": "api:2",
    }
    diff = diff_records(old, new)
    assert diff.added == ["image", "labels.team"]
    assert diff.removed == ["labels.tier", "strategy"]
    assert diff.changed == ["replicas"]


def test_lists_are_compared_whole() -> None:
    old = {"containers": [{"image": "a:1"}, {"image": "b:1"}]}
    new = {"containers": [{"image": "a:1"}, {"image": "b:2"}]}
    assert diff_records(old, new).changed == ["containers"]


def test_identical_records_have_no_diff() -> None:
    record = {"uid": "p1", "labels": {"a": "1"}}
    diff = diff_records(record, dict(record))
    assert (diff.added, diff.removed, diff.changed) == ([], [], [])


def test_creation_and_deletion_diff_against_nothing() -> None:
    record = {"uid": "p1", "name": "web"}
    assert diff_records(None, record).added == ["name", "uid"]
    assert diff_records(record, None).removed == ["name", "uid"]


def test_a_mapping_replaced_by_a_scalar_is_a_change() -> None:
    assert diff_records({"selector": {"app": "x"}}, {"selector": None}).changed == ["selector"]


Values = list[tuple[object, ...]]


def _values(old: dict[str, object] | None, new: dict[str, object] | None) -> Values:
    return [
        (change.path, change.old, change.new, change.added, change.removed)
        for change in diff_records(old, new).values
    ]


def test_scalar_values_read_old_to_new() -> None:
    old = {"replicas": 2, "labels": {"app": "api", "tier": "backend"}}
    new = {"replicas": 3, "labels": {"app": "api", "team": "payments"}}
    assert _values(old, new) == [
        ("labels.team", ABSENT, "payments", [], []),
        ("labels.tier", "backend", ABSENT, [], []),
        ("replicas", 2, 3, [], []),
    ]


def test_named_list_items_are_matched_by_name() -> None:
    old = {"containers": [{"name": "web", "restart_count": 1}, {"name": "log", "image": "l:1"}]}
    new = {"containers": [{"name": "web", "restart_count": 2}, {"name": "db", "image": "d:1"}]}
    assert _values(old, new) == [
        ("containers[db]", ABSENT, {"name": "db", "image": "d:1"}, [], []),
        ("containers[log]", {"name": "log", "image": "l:1"}, ABSENT, [], []),
        ("containers[web].restart_count", 1, 2, [], []),
    ]


def test_plain_lists_report_added_and_removed_entries() -> None:
    old = {"policy_types": ["Ingress", "Egress"]}
    new = {"policy_types": ["Ingress", "Other"]}
    assert _values(old, new) == [("policy_types", ABSENT, ABSENT, ["Other"], ["Egress"])]


def test_identical_records_have_no_value_changes() -> None:
    record = {"uid": "p1", "containers": [{"name": "a"}]}
    assert diff_records(record, dict(record)).values == []
