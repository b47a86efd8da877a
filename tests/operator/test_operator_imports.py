"""The operator must run in a slim image: no platform dependency may sneak into its imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import obsyk_operator

FORBIDDEN = ("flask", "sqlalchemy", "reference_app", "psycopg", "redis", "rq")


def test_importing_every_operator_module_pulls_in_no_platform_package() -> None:
    modules = sorted(
        f"obsyk_operator.{path.stem}"
        for path in Path(obsyk_operator.__file__).parent.glob("*.py")
        if path.stem != "__init__"
    )
    code = (
        "import sys\n"
        f"for name in {modules!r}: __import__(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert len(modules) > 10
    assert result.stdout.strip() == ""
