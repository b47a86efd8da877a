"""The storage conformance suite: prove a third-party backend behaves like the built-ins.

In the backend's own tests::

    import pytest
    from obsyk_core.testing import StorageConformance

    class TestMyBackend(StorageConformance):
        @pytest.fixture
        def obsyk_storage_factory(self):
            return lambda: open_my_storage("mydb://...")   # fresh, empty, migrated

The ``obsyk_storage`` fixture the tests use comes from this package's pytest
plugin (:mod:`obsyk_core.testing.plugin`), loaded automatically through the
``pytest11`` entry point once ``obsyk`` is installed.  Only this package
imports pytest; ``import obsyk_core`` never does.
"""

from obsyk_core.testing.builders import T0, added, at, deleted, deployment, modified, node, pod
from obsyk_core.testing.conformance import StorageConformance

__all__ = [
    "T0",
    "StorageConformance",
    "added",
    "at",
    "deleted",
    "deployment",
    "modified",
    "node",
    "pod",
]
