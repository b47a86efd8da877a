"""What every group of conformance tests shares."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from obsyk_core.storage import Cluster, Organization, Storage


class ConformanceBase:
    """Helpers for the test mixins; the ``obsyk_storage`` fixture comes from the plugin."""

    @staticmethod
    def new_org(storage: Storage) -> Organization:
        return storage.create_org(f"org-{uuid.uuid4().hex[:10]}")

    @classmethod
    def new_cluster(cls, storage: Storage, name: str = "prod-eu") -> Cluster:
        """A cluster in an organization of its own."""
        return storage.create_cluster(cls.new_org(storage).id, name)


def assert_utc(value: datetime | None) -> None:
    """The interface promises timezone-aware UTC datetimes, never naive ones."""
    assert value is not None, "expected a datetime, got None"
    assert value.tzinfo is not None, f"{value!r} is naive; the interface requires aware UTC"
    assert value.utcoffset() == timedelta(0), f"{value!r} is not in UTC"
