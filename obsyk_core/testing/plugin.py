"""The pytest plugin (entry point ``obsyk_conformance``) behind the storage conformance suite.

It provides the ``obsyk_storage`` fixture the suite's tests use: one fresh
store per test, opened with the ``obsyk_storage_factory`` fixture that the
backend's own test module defines, and closed afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from obsyk_core.storage import Storage

StorageFactory = Callable[[], Storage]


@pytest.fixture
def obsyk_storage_factory() -> StorageFactory:
    """Overridden by the backend's tests; this default only explains what to write."""
    pytest.fail(
        "the storage conformance suite needs a fixture named 'obsyk_storage_factory' "
        "returning a callable that opens a fresh, empty, migrated Storage "
        "(see docs/how-to/write-a-storage-backend.md)"
    )


@pytest.fixture
def obsyk_storage(obsyk_storage_factory: StorageFactory) -> Iterator[Storage]:
    """A fresh, empty, migrated store for one test."""
    storage = obsyk_storage_factory()
    try:
        yield storage
    finally:
        storage.close()
