"""Run the storage conformance suite on every built-in backend.

Each backend is reached the way the platform reaches it: through the plugin
manager, by URL.  PostgreSQL uses this run's database, emptied before each test.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from obsyk_core.storage import Storage
from obsyk_core.testing import StorageConformance

StorageFactory = Callable[[], Storage]


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
