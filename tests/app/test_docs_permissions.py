"""docs/reference/permissions.md shows the policy's table exactly."""

from __future__ import annotations

from pathlib import Path

from obsyk_core.storage import ROLES
from reference_app.auth.policy import ROLE_PERMISSIONS, Permission

DOC = Path(__file__).parents[2] / "docs" / "reference" / "permissions.md"


def test_the_permission_table_in_the_docs_is_the_policy() -> None:
    documented: dict[str, set[str]] = {}
    for line in DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 + len(ROLES) and cells[0].startswith("`"):
            permission = cells[0].strip("`")
            documented[permission] = {
                role for role, cell in zip(ROLES, cells[2:], strict=True) if cell == "yes"
            }
    expected = {
        str(permission): {role for role in ROLES if permission in ROLE_PERMISSIONS[role]}
        for permission in Permission
    }
    assert documented == expected
