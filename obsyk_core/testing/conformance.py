"""The whole storage conformance suite as one class to subclass."""

from __future__ import annotations

from obsyk_core.testing.attention import AttentionConformance
from obsyk_core.testing.events import EventConformance
from obsyk_core.testing.history import HistoryConformance
from obsyk_core.testing.images import ImageConformance
from obsyk_core.testing.people import PeopleConformance
from obsyk_core.testing.queries import QueryConformance
from obsyk_core.testing.snapshots import SnapshotConformance
from obsyk_core.testing.staging import StagingConformance
from obsyk_core.testing.tenancy import TenancyConformance
from obsyk_core.testing.transactions import TransactionConformance


class StorageConformance(
    TenancyConformance,
    SnapshotConformance,
    EventConformance,
    HistoryConformance,
    QueryConformance,
    StagingConformance,
    TransactionConformance,
    PeopleConformance,
    AttentionConformance,
    ImageConformance,
):
    """Every behaviour a :class:`~obsyk_core.storage.Storage` must have.

    Subclass it in a class whose name starts with ``Test`` and give it an
    ``obsyk_storage_factory`` fixture returning a callable that opens a fresh,
    empty, migrated store::

        class TestMyBackend(StorageConformance):
            @pytest.fixture
            def obsyk_storage_factory(self, tmp_path):
                return lambda: open_my_storage(tmp_path / "db")

    Not named ``Test...`` itself, so pytest collects it only through subclasses.
    """
