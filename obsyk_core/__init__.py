"""Obsyk core: resource kinds, ingestion semantics, storage/cache interfaces, plugin hooks.

Imports only the standard library, pluggy, marshmallow and orjson, so it can be
embedded anywhere (and the operator can use it without any web stack).

The names in ``__all__`` are the public API, importable from ``obsyk_core``
itself and listed in ``docs/reference/python-api.md`` (a test keeps the two
equal).  Everything else may change between releases.
"""

from obsyk_core.cache import Cache, CacheError
from obsyk_core.diff import RecordDiff, ValueChange, diff_records
from obsyk_core.freshness import cluster_status
from obsyk_core.hashing import canonical_json, content_hash, kind_digest
from obsyk_core.ingest import (
    IncomingResource,
    IngestResult,
    ResourceChange,
    ResourceEvent,
    apply_events,
    reconcile_snapshot,
)
from obsyk_core.kinds import (
    CATEGORIES,
    COLUMN_TYPES,
    Column,
    DisplayHints,
    DuplicateKindError,
    KindRegistry,
    RawObject,
    Record,
    Relations,
    ResourceKind,
    UnknownKindError,
)
from obsyk_core.labels import (
    LabelRequirement,
    LabelSelectorError,
    matches_all,
    parse_label_selector,
)
from obsyk_core.plugins import Plugins, build_plugin_manager, hookimpl
from obsyk_core.registries import CacheRegistry, StorageRegistry, UnknownBackendError
from obsyk_core.storage import (
    ChangeType,
    Cluster,
    ClusterSeen,
    ConflictError,
    Organization,
    ResourceQuery,
    ResourceRow,
    ResourceVersion,
    Storage,
    StorageError,
)
from obsyk_core.wire import (
    KIND_STATES,
    BodyError,
    Heartbeat,
    Snapshot,
    parse_events,
    parse_heartbeat,
    parse_snapshot,
)

__all__ = [
    "CATEGORIES",
    "COLUMN_TYPES",
    "KIND_STATES",
    "BodyError",
    "Cache",
    "CacheError",
    "CacheRegistry",
    "ChangeType",
    "Cluster",
    "ClusterSeen",
    "Column",
    "ConflictError",
    "DisplayHints",
    "DuplicateKindError",
    "Heartbeat",
    "IncomingResource",
    "IngestResult",
    "KindRegistry",
    "LabelRequirement",
    "LabelSelectorError",
    "Organization",
    "Plugins",
    "RawObject",
    "Record",
    "RecordDiff",
    "Relations",
    "ResourceChange",
    "ResourceEvent",
    "ResourceKind",
    "ResourceQuery",
    "ResourceRow",
    "ResourceVersion",
    "Snapshot",
    "Storage",
    "StorageError",
    "StorageRegistry",
    "UnknownBackendError",
    "UnknownKindError",
    "ValueChange",
    "apply_events",
    "build_plugin_manager",
    "canonical_json",
    "cluster_status",
    "content_hash",
    "diff_records",
    "hookimpl",
    "kind_digest",
    "matches_all",
    "parse_events",
    "parse_heartbeat",
    "parse_label_selector",
    "parse_snapshot",
    "reconcile_snapshot",
]
__version__ = "0.1.0"
