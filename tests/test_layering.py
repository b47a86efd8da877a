"""The arrows point down: obsyk_core and obsyk_operator never load the web or database stack."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

_PROBE = """
import json, sys
import obsyk_core, obsyk_core.ingest, obsyk_core.wire, obsyk_operator
from obsyk_core.plugins import build_plugin_manager
plugins = build_plugin_manager()
assert len(plugins.kinds) >= 20, "core kinds not loaded"
assert "memory" in plugins.storage and "sqlite" in plugins.storage
assert "memory" in plugins.caches
storage = plugins.storage.open("memory://")
print(json.dumps(sorted(name.split(".")[0] for name in sys.modules)))
"""

#: Every module of the operator, as the in-cluster agent loads them.
_OPERATOR_PROBE = """
import importlib, json, pkgutil, sys
import obsyk_operator
for module in pkgutil.walk_packages(obsyk_operator.__path__, "obsyk_operator."):
    importlib.import_module(module.name)
print(json.dumps(sorted(name.split(".")[0] for name in sys.modules)))
"""

HEAVY = ("flask", "sqlalchemy", "redis", "werkzeug")


def top_level_modules_after(probe: str) -> set[str]:
    """Run ``probe`` in a fresh interpreter; the top-level packages it ended up loading."""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def loaded_top_level_modules() -> set[str]:
    return top_level_modules_after(_PROBE)


@pytest.mark.parametrize("heavy", HEAVY)
def test_core_operator_and_plugin_registries_do_not_load(
    loaded_top_level_modules: set[str], heavy: str
) -> None:
    assert heavy not in loaded_top_level_modules


def test_the_probe_really_loads_the_packages(loaded_top_level_modules: set[str]) -> None:
    assert {"obsyk_core", "obsyk_operator", "obsyk_plugins", "pluggy"} <= loaded_top_level_modules


@pytest.fixture(scope="module")
def loaded_by_the_operator() -> set[str]:
    return top_level_modules_after(_OPERATOR_PROBE)


@pytest.mark.parametrize("heavy", ["flask", "sqlalchemy"])
def test_the_whole_operator_loads_no_web_or_database_stack(
    loaded_by_the_operator: set[str], heavy: str
) -> None:
    assert "obsyk_operator" in loaded_by_the_operator
    assert heavy not in loaded_by_the_operator


def imported_modules(package: str) -> dict[str, set[str]]:
    """Every module each file of ``package`` imports (absolute names, at any depth of the file)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path} imports {name}"
        for path, names in imported_modules(package).items()
        for name in sorted(names)
        if name.split(".")[0] in forbidden
    ]


def test_obsyk_core_imports_nothing_above_it() -> None:
    forbidden = (
        "flask",
        "sqlalchemy",
        "redis",
        "kubernetes",
        "obsyk_plugins",
        "obsyk_operator",
        "reference_app",
    )
    assert violations("obsyk_core", forbidden) == []


def test_obsyk_operator_never_imports_the_reference_app() -> None:
    assert violations("obsyk_operator", ("reference_app", "flask", "sqlalchemy")) == []


def test_the_import_scan_finds_imports() -> None:
    """Guard against a scan that silently sees nothing."""
    scanned = imported_modules("obsyk_core")
    assert "obsyk_core/wire.py" in scanned
    assert "obsyk_core.kinds" in scanned["obsyk_core/wire.py"]
    assert "pytest" in scanned["obsyk_core/testing/plugin.py"]
