"""obsyk_core's public API is declared in ``__all__`` and documented, name for name."""

from __future__ import annotations

import re
from pathlib import Path

import obsyk_core

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference" / "python-api.md"


def test_every_public_name_is_importable_from_the_package() -> None:
    missing = [name for name in obsyk_core.__all__ if not hasattr(obsyk_core, name)]
    assert missing == []
    assert len(set(obsyk_core.__all__)) == len(obsyk_core.__all__)


def test_the_reference_lists_exactly_the_public_names() -> None:
    documented = re.findall(r"^\| `(\w+)` \|", REFERENCE.read_text(), flags=re.MULTILINE)

    assert len(documented) == len(set(documented)), "a name is documented twice"
    assert sorted(documented) == sorted(obsyk_core.__all__)
