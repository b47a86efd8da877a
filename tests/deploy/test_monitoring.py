"""deploy/monitoring: the Grafana dashboard and alert rules parse and query only real metrics."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from rendered import DEPLOY

from reference_app.metrics import METRIC_NAMES

MONITORING = DEPLOY / "monitoring"
_METRIC = re.compile(r"\bobsyk_[a-z0-9_]+")
_HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def _unknown_metrics(expr: str) -> set[str]:
    unknown = set()
    for name in _METRIC.findall(expr):
        base = next((name.removesuffix(s) for s in _HISTOGRAM_SERIES if name.endswith(s)), name)
        if name not in METRIC_NAMES and not (base in METRIC_NAMES and base.endswith("_seconds")):
            unknown.add(name)
    return unknown


def _balanced(expr: str) -> bool:
    depth = 0
    for char in re.sub(r'"[^"]*"', "", expr):
        depth += {"(": 1, ")": -1, "{": 1, "}": -1, "[": 1, "]": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_alert_rules_cover_the_failures_operators_care_about() -> None:
    rules = _rules()
    names = {rule["alert"] for rule in rules}
    assert {
        "ObsykClusterDisconnected",
        "ObsykIngestionErrors",
        "ObsykQueueBacklog",
        "ObsykJobFailures",
    } <= names
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert _METRIC.search(rule["expr"]), rule["alert"]
        assert _balanced(rule["expr"]), rule["alert"]
        assert _unknown_metrics(rule["expr"]) == set(), rule["alert"]


def test_dashboard_is_grafana_json_querying_only_real_metrics() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    queried = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert _balanced(target["expr"]), panel["title"]
            assert _unknown_metrics(target["expr"]) == set(), panel["title"]
            queried |= set(_METRIC.findall(target["expr"]))
    # Every metric the platform exports is on the dashboard.
    shown = {
        next((n.removesuffix(s) for s in _HISTOGRAM_SERIES if n.endswith(s)), n) for n in queried
    }
    assert shown == METRIC_NAMES


def test_the_check_catches_a_misspelt_metric() -> None:
    assert _unknown_metrics("rate(obsyk_http_request_total[5m])") == {"obsyk_http_request_total"}
    assert _unknown_metrics("obsyk_snapshot_staging_seconds_bucket") == set()
    assert not _balanced("sum(rate(obsyk_clusters[5m])")
