"""Display hints declare how each column renders; nothing is left for a user interface to guess."""

from __future__ import annotations

import pytest

from obsyk_core.kinds import COLUMN_TYPES, Column, DisplayHints
from obsyk_plugins.core_kinds import CORE_KINDS


def test_a_plain_field_name_is_a_text_column_headed_by_its_words() -> None:
    hints = DisplayHints(category="Config", columns=("name", "issuer.name", "k8s_created_at"))

    assert hints.columns == (
        Column("name", "text", "name"),
        Column("issuer.name", "text", "issuer name"),
        Column("k8s_created_at", "text", "created"),
    )


def test_the_status_field_is_a_status_column_whether_listed_or_not() -> None:
    listed = DisplayHints(category="Workloads", columns=("name", "phase"), status_field="phase")
    left_out = DisplayHints(category="Workloads", columns=("name",), status_field="phase")
    declared = DisplayHints(
        category="Workloads",
        columns=(Column("ready_replicas", "quantity", label="ready"),),
        status_field="ready_replicas",
    )

    assert listed.columns[-1] == Column("phase", "status")
    assert left_out.columns == (Column("name"), Column("phase", "status"))
    # A column that declares its own type keeps it.
    assert declared.columns == (Column("ready_replicas", "quantity", label="ready"),)


def test_unknown_types_categories_and_misplaced_words_fail_at_declaration() -> None:
    with pytest.raises(ValueError, match="unknown type 'colour'"):
        Column("phase", "colour")
    with pytest.raises(ValueError, match="only a status column"):
        Column("ready", "boolean", good=("true",))
    with pytest.raises(ValueError, match="unknown display category 'Security'"):
        DisplayHints(category="Security")


def test_every_core_kind_declares_typed_columns_and_its_status_among_them() -> None:
    for kind in CORE_KINDS:
        columns = kind.display.columns
        assert all(isinstance(c, Column) and c.type in COLUMN_TYPES for c in columns)
        if kind.display.status_field:
            assert kind.display.status_field in {c.field for c in columns if isinstance(c, Column)}
    by_kind = {kind.kind: kind.display for kind in CORE_KINDS}
    node_status = by_kind["Node"].columns[1]
    assert isinstance(node_status, Column)
    assert (node_status.type, node_status.good, node_status.bad) == (
        "status",
        ("Ready",),
        ("NotReady",),
    )
