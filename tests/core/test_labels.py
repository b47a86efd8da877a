"""Label selectors: kubectl -l syntax in, Kubernetes matching semantics out."""

from __future__ import annotations

import pytest

from obsyk_core.labels import (
    MAX_CLAUSES,
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


def test_a_selector_has_at_most_fifty_clauses() -> None:
    assert len(parse_label_selector(",".join(f"k{i}=v" for i in range(MAX_CLAUSES)))) == 50
    with pytest.raises(LabelSelectorError, match="more than 50 clauses"):
        parse_label_selector(",".join(f"k{i}=v" for i in range(MAX_CLAUSES + 1)))


@pytest.mark.timeout(5)
def test_white_space_cannot_make_parsing_quadratic() -> None:
    # Two adjacent optional runs of spaces used to be tried in every split: 2 x 3,900
    # spaces cost 170 ms, so 2 x 200,000 would take minutes.  Linear parsing refuses it
    # at once, and the message does not echo the whole text.
    text = " " * 200_000 + "app" + " " * 200_000 + "!"
    with pytest.raises(LabelSelectorError) as refused:
        parse_label_selector(text)
    assert len(str(refused.value)) < 200


def test_spaces_around_clauses_are_allowed() -> None:
    assert parse_label_selector("  app = web ,  ! legacy , tier in ( a , b )  ") == (
        LabelRequirement("app", "in", ("web",)),
        LabelRequirement("legacy", "!exists"),
        LabelRequirement("tier", "in", ("a", "b")),
    )
