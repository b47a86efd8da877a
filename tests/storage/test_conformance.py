"""Run the storage conformance suite on every built-in backend.

Each backend is reached the way the platform reaches it: through the plugin
manager, by URL.  PostgreSQL uses this run's database, emptied before each test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from obsyk_core.storage import Storage
from obsyk_core.testing import StorageConformance

StorageFactory = Callable[[], Storage]
ROOT = Path(__file__).resolve().parents[2]


class TestMemoryStorage(StorageConformance):
    @pytest.fixture
    def obsyk_storage_factory(self, memory_storage_factory: StorageFactory) -> StorageFactory:
        return memory_storage_factory


class TestSqliteStorage(StorageConformance):
    @pytest.fixture
    def obsyk_storage_factory(self, sqlite_storage_factory: StorageFactory) -> StorageFactory:
        return sqlite_storage_factory


@pytest.mark.postgres
class TestPostgresStorage(StorageConformance):
    @pytest.fixture
    def obsyk_storage_factory(self, postgres_storage_factory: StorageFactory) -> StorageFactory:
        return postgres_storage_factory


# --------------------------------------------------------------------------- as a third party


def _documented_example() -> str:
    """The complete test module docs/how-to/write-a-storage-backend.md tells authors to write."""
    doc = (ROOT / "docs" / "how-to" / "write-a-storage-backend.md").read_text()
    match = re.search(r"<!-- example: conformance -->\n```python\n(.*?)```", doc, re.S)
    assert match, "the how-to lost its complete conformance example"
    return match.group(1)


def _pytest_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest where a backend author would: their own directory, no Obsyk conftest."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_documented_example_runs_the_whole_suite(tmp_path: Path) -> None:
    (tmp_path / "test_my_backend.py").write_text(_documented_example())
    done = _pytest_in(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed and int(passed.group(1)) >= 60, done.stdout


def test_missing_factory_fixture_is_explained(tmp_path: Path) -> None:
    (tmp_path / "test_forgot.py").write_text(
        "from obsyk_core.testing import StorageConformance\n\n\n"
        "class TestForgot(StorageConformance):\n    pass\n"
    )
    done = _pytest_in(tmp_path, "-k", "bind_cluster_uid")
    assert done.returncode == 1
    assert "needs a fixture named 'obsyk_storage_factory'" in done.stdout
