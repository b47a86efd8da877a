"""docs/operator.md tells the truth: the flags, defaults and metrics it names are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

from obsyk_operator.cli import build_parser
from obsyk_operator.metrics import OperatorMetrics

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operator.md").read_text()


def run_flags() -> set[str]:
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    run = commands.choices["run"]  # type: ignore[index]
    return {flag for action in run._actions for flag in action.option_strings} - {"-h", "--help"}


def test_every_flag_of_run_is_documented_and_nothing_else() -> None:
    documented = set(re.findall(r"`(--[a-z][a-z-]*)`", DOC))
    assert documented == run_flags()


def test_documented_metric_names_are_the_exposed_ones() -> None:
    metrics = OperatorMetrics()
    metrics.watch_cache(lambda: {"Pod": 1})
    metrics.watch_kind_states(lambda: {"Certificate": "not_served"})
    exposed = {
        family.name + "_total" if family.type == "counter" else family.name
        for family in metrics.registry.collect()
    }
    assert set(re.findall(r"`(obsyk_operator_[a-z_]+)", DOC)) == exposed


def test_documented_defaults_match_the_parser() -> None:
    args = build_parser().parse_args(["run"])
    rows = dict(re.findall(r"^\| `(--[a-z-]+)`[^|]*\| ([^|]+) \|", DOC, flags=re.MULTILINE))
    assert rows["--namespace"].strip() == f"`{args.namespace}`"
    assert rows["--heartbeat-interval"].strip() == f"`{args.heartbeat_interval:g}`"
    assert rows["--resync-interval"].strip() == f"`{args.resync_interval / 3600:g}h`"
    assert rows["--log-level"].strip() == f"`{args.log_level}`"
    assert rows["--health-port"].strip() == f"{args.health_port} / {args.metrics_port}"
