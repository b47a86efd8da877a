"""Run the storage conformance suite on every built-in backend.

Each backend is reached the way the platform reaches it: through the plugin
manager, by URL.  PostgreSQL uses this run's database, emptied before each test.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from obsyk_core.plugins import build_plugin_manager
from obsyk_core.storage import Storage
from obsyk_core.testing import StorageConformance
from obsyk_plugins.memory_storage import MemoryStorage

StorageFactory = Callable[[], Storage]
#: The suite's size, as docs/how-to/write-a-storage-backend.md states it.
CONFORMANCE_TESTS = 90
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
    assert passed and int(passed.group(1)) == CONFORMANCE_TESTS, done.stdout
    doc = (ROOT / "docs" / "how-to" / "write-a-storage-backend.md").read_text()
    assert f"**{CONFORMANCE_TESTS} tests**" in doc


def test_missing_factory_fixture_is_explained(tmp_path: Path) -> None:
    (tmp_path / "test_forgot.py").write_text(
        "from obsyk_core.testing import StorageConformance\n\n\n"
        "class TestForgot(StorageConformance):\n    pass\n"
    )
    done = _pytest_in(tmp_path, "-k", "bind_cluster_uid")
    assert done.returncode == 1
    assert "needs a fixture named 'obsyk_storage_factory'" in done.stdout


# --------------------------------------------------------------------------- a wrapping backend


def _wrapper_example() -> ModuleType:
    """The how-to's wrapping backend, loaded as the module a plugin author would ship."""
    doc = (ROOT / "docs" / "how-to" / "write-a-storage-backend.md").read_text()
    match = re.search(r"<!-- example: wrapper -->\n```python\n(.*?)```", doc, re.S)
    assert match, "the how-to lost its wrapping backend example"
    module = ModuleType("obsyk_counted_storage")
    exec(compile(match.group(1), "write-a-storage-backend.md", "exec"), module.__dict__)
    return module


class TestWrappingBackend(StorageConformance):
    """The documented wrapper, opened by its URL through the plugins, wrapping memory://."""

    @pytest.fixture
    def obsyk_storage_factory(self) -> StorageFactory:
        wrapper = _wrapper_example()
        plugins = build_plugin_manager(plugins=[wrapper], distribution="obsyk", disabled=())

        def open_fresh() -> Storage:
            storage: Storage = plugins.storage.open("counted+memory://")  # a proxy of one
            storage.migrate()
            return storage

        return open_fresh


def test_the_wrapper_counts_calls_and_reaches_the_inner_backends_own_methods() -> None:
    wrapper = _wrapper_example()
    plugins = build_plugin_manager(plugins=[wrapper], distribution="obsyk", disabled=())
    storage = plugins.storage.open("counted+memory://")

    org = storage.create_org("acme")
    storage.create_cluster(org.id, "prod")

    assert isinstance(storage.inner, MemoryStorage)  # type: ignore[attr-defined]
    assert wrapper.CALLS["create_org"] == 1 and wrapper.CALLS["create_cluster"] == 1
    # An optional method is the inner backend's own, not Storage's default.
    assert storage.stored_states.__func__ is MemoryStorage.stored_states  # type: ignore[attr-defined]


def test_the_documented_optional_methods_are_storages_defaults() -> None:
    """Every method Storage implements itself (a wrapper must forward) is in the how-to's table."""
    doc = (ROOT / "docs" / "how-to" / "write-a-storage-backend.md").read_text()
    table = doc.split("| optional method |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    optional = {
        name
        for name, member in inspect.getmembers(Storage, inspect.isfunction)
        if not name.startswith("_") and name not in Storage.__abstractmethods__
    }
    assert documented == optional
