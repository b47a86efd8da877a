"""Label selectors: kubectl -l syntax in, Kubernetes matching semantics out."""

from __future__ import annotations

import pytest

from obsyk_core.labels import (
    LabelRequirement,
    LabelSelectorError,
    matches_all,
    parse_label_selector,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app=web", [LabelRequirement("app", "in", ("web",))]),
        ("app==web", [LabelRequirement("app", "in", ("web",))]),
        ("app != web", [LabelRequirement("app", "notin", ("web",))]),
        ("tier in (frontend, backend)", [LabelRequirement("tier", "in", ("frontend", "backend"))]),
        ("tier notin (cache)", [LabelRequirement("tier", "notin", ("cache",))]),
        # Kubernetes allows an empty value inside a set: (a,,b) is a, "" and b.
        ("tier in (a,,b)", [LabelRequirement("tier", "in", ("a", "", "b"))]),
        ("app.kubernetes.io/name", [LabelRequirement("app.kubernetes.io/name", "exists")]),
        ("!canary", [LabelRequirement("canary", "!exists")]),
        ("app=", [LabelRequirement("app", "in", ("",))]),
        (
            "app=web,tier in (a,b),!canary",
            [
                LabelRequirement("app", "in", ("web",)),
                LabelRequirement("tier", "in", ("a", "b")),
                LabelRequirement("canary", "!exists"),
            ],
        ),
        ("", []),
        ("   ", []),
    ],
)
def test_valid_selectors(text: str, expected: list[LabelRequirement]) -> None:
    assert list(parse_label_selector(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "app=web=x",
        "app in web",
        "app in ()",
        "app in (a b)",
        "tier in (a,b",
        "tier notin a)",
        "=web",
        "app=-web",
        "app=web,",
        "-app",
        "app web",
    ],
)
def test_invalid_selectors_are_rejected(text: str) -> None:
    with pytest.raises(LabelSelectorError):
        parse_label_selector(text)


def test_error_names_the_bad_clause() -> None:
    with pytest.raises(LabelSelectorError, match="'app web'"):
        parse_label_selector("tier=a,app web")


LABELS = {"app": "web", "tier": "frontend"}


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("app=web", LABELS, True),
        ("app=api", LABELS, False),
        ("app!=api", LABELS, True),
        ("app!=web", LABELS, False),
        ("app!=web", {}, True),  # absent key: != matches, as in Kubernetes
        ("app notin (web)", {}, True),
        ("app in (web)", {}, False),
        ("tier", LABELS, True),
        ("tier", {}, False),
        ("!tier", LABELS, False),
        ("!tier", {}, True),
        ("app=web,tier=frontend", LABELS, True),
        ("app=web,tier=backend", LABELS, False),
        ("", {}, True),
    ],
)
def test_matching(text: str, labels: dict[str, str], matches: bool) -> None:
    assert matches_all(labels, parse_label_selector(text)) is matches
