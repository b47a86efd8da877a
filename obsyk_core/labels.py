"""Kubernetes label selectors: parse the text form, match a label set.

Supports the full equality- and set-based syntax of ``kubectl -l``:
``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a`` and ``!a``,
comma-separated and all of them required.

Parsing is linear in the length of the text: each clause is stripped once and
then matched by patterns with no two adjacent optional runs of white space (the
classic cause of quadratic backtracking).  A selector has at most
:data:`MAX_CLAUSES` clauses, so a query built from it stays bounded too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Operator = Literal["in", "notin", "exists", "!exists"]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_KEY_RE = re.compile(_KEY)
_VALUE_RE = re.compile(_VALUE)
# Matched against a stripped clause: no leading or trailing white space to absorb.
_SET_RE = re.compile(rf"(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)")
_EQ_RE = re.compile(rf"(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})")
_EXISTS_RE = re.compile(rf"(?P<neg>!?)\s*(?P<key>{_KEY})")

MAX_CLAUSES = 50
"""The most clauses one selector may have (Kubernetes sets no limit; a query needs one)."""


class LabelSelectorError(ValueError):
    """The selector text is not valid Kubernetes label-selector syntax."""


@dataclass(frozen=True, slots=True)
class LabelRequirement:
    """One clause of a selector.  ``=`` is ``in`` one value, ``!=`` is ``notin`` one value."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!exists":
            return not present
        if self.operator == "in":
            return present and labels[self.key] in self.values
        # notin (and !=) also match objects without the key, as in Kubernetes.
        return not present or labels[self.key] not in self.values


def parse_label_selector(text: str) -> tuple[LabelRequirement, ...]:
    """Parse ``kubectl -l`` syntax; raise :class:`LabelSelectorError` naming the bad clause."""
    requirements = []
    for clause in _split_clauses(text):
        requirements.append(_parse_clause(clause))
    return tuple(requirements)


def matches_all(labels: Mapping[str, str], requirements: tuple[LabelRequirement, ...]) -> bool:
    return all(requirement.matches(labels) for requirement in requirements)


def _split_clauses(text: str) -> list[str]:
    """Split on commas that are not inside ``( )``."""
    clauses: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise LabelSelectorError(f"unbalanced ')' in label selector {_shown(text)}")
        if char == "," and depth == 0:
            clauses.append("".join(current))
            current = []
            if len(clauses) >= MAX_CLAUSES:
                raise LabelSelectorError(
                    f"label selector has more than {MAX_CLAUSES} clauses; split the query"
                )
        else:
            current.append(char)
    if depth:
        raise LabelSelectorError(f"unbalanced '(' in label selector {_shown(text)}")
    clauses.append("".join(current))
    if len(clauses) == 1 and not clauses[0].strip():
        return []
    return clauses


def _parse_clause(clause: str) -> LabelRequirement:
    clause = clause.strip()
    if match := _SET_RE.fullmatch(clause):
        values = tuple(v.strip() for v in match["values"].split(","))
        if not values or any(not _VALUE_RE.fullmatch(v) for v in values) or values == ("",):
            raise LabelSelectorError(f"invalid values in label selector clause {_shown(clause)}")
        op: Operator = "in" if match["op"] == "in" else "notin"
        return LabelRequirement(match["key"], op, values)
    if match := _EQ_RE.fullmatch(clause):
        op = "notin" if match["op"] == "!=" else "in"
        return LabelRequirement(match["key"], op, (match["value"],))
    if match := _EXISTS_RE.fullmatch(clause):
        return LabelRequirement(match["key"], "!exists" if match["neg"] else "exists")
    raise LabelSelectorError(f"invalid label selector clause {_shown(clause)}")


def _shown(text: str, limit: int = 80) -> str:
    """The text for an error message, cut short so a huge selector is not echoed whole."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r} (+{len(text) - limit} chars)"
