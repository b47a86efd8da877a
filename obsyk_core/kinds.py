"""Resource kinds: one declaration used by the operator, the platform and the dashboard.

A :class:`ResourceKind` says which Kubernetes API a kind lives in, how the
operator projects a raw object to the wire record (``extract``), how the
platform validates that record (``schema``) and how the dashboard shows it
(``display``).  Kinds reach the program through the ``obsyk_register_kinds``
hook, into a :class:`KindRegistry` that refuses duplicates at start-up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import marshmallow

from obsyk_core.registries import PluginAttribution

#: A raw Kubernetes object as the API server returns it (parsed JSON).
RawObject = Mapping[str, Any]
#: The per-kind record of CONTRACT.md section 4 (JSON-serialisable).
Record = dict[str, Any]
#: Raw object -> record: what a kind's ``extract`` is.
Extractor = Callable[[RawObject], Record]

#: The dashboard's groups of kinds, in the order it shows them.
CATEGORIES = ("Workloads", "Network", "Config", "Storage", "RBAC", "Cluster", "Events")

#: How a column's value renders: ``text`` as it is; ``status`` as a pill coloured
#: by the column's ``good`` / ``warn`` / ``bad`` words; ``list`` as its items
#: joined by commas; ``boolean`` as yes / no; ``time`` (RFC 3339) relative to now
#: with the exact time as a tooltip; ``quantity`` (a count or a Kubernetes
#: quantity such as ``500Mi``) right-aligned.
COLUMN_TYPES = ("text", "status", "list", "boolean", "time", "quantity")


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a kind's resource table: a record field and how its value renders.

    ``field`` is a record field name (a dotted path reaches into nested
    objects: ``issuer.name``); ``type`` is one of :data:`COLUMN_TYPES`;
    ``label`` is the heading (derived from the field when empty).  A
    ``status`` column's value is compared, ignoring case, with its ``good``,
    ``warn`` and ``bad`` words to colour the pill; any other value is neutral.
    """

    field: str
    type: str = "text"
    label: str = ""
    good: tuple[str, ...] = ()
    warn: tuple[str, ...] = ()
    bad: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise ValueError(
                f"column {self.field!r}: unknown type {self.type!r}; use one of {COLUMN_TYPES}"
            )
        if self.type != "status" and (self.good or self.warn or self.bad):
            raise ValueError(f"column {self.field!r}: only a status column has good/warn/bad words")
        if not self.label:
            object.__setattr__(self, "label", _heading(self.field))


def _heading(field_name: str) -> str:
    # "k8s_created_at" -> "created", "issuer.name" -> "issuer name".
    name = field_name.removeprefix("k8s_").removesuffix("_at")
    return name.replace(".", " ").replace("_", " ")


@dataclass(frozen=True, slots=True)
class DisplayHints:
    """How the dashboard presents a kind.

    ``category`` is one of :data:`CATEGORIES`.  ``columns`` are the resource
    table's columns, each a :class:`Column` (a plain field name is a ``text``
    column).  ``status_field`` is the record field whose value summarises
    health (``phase``, ``status``...), if any: it is a column too, appended as
    a ``status`` column when the columns leave it out, and a plain field name
    among the columns that names it becomes a ``status`` column.
    """

    category: str
    columns: tuple[Column | str, ...] = ()
    status_field: str | None = None

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown display category {self.category!r}; use one of {CATEGORIES}")
        columns = [_column(spec, self.status_field) for spec in self.columns]
        if self.status_field and all(c.field != self.status_field for c in columns):
            columns.append(Column(self.status_field, "status"))
        # Frozen: normalised once here, so every reader sees Column objects.
        object.__setattr__(self, "columns", tuple(columns))


def _column(spec: Column | str, status_field: str | None) -> Column:
    if isinstance(spec, Column):
        return spec
    return Column(spec, "status" if spec == status_field else "text")


#: How a reference points at another object: an Ingress ``routes`` to it, a Pod
#: ``uses`` it (a ConfigMap, Secret, PVC, ServiceAccount...), a Job names its
#: ``owner`` (the CronJob) when the record carries no ``owner_references``.
ReferenceRole = Literal["owner", "routes", "uses"]


@dataclass(frozen=True, slots=True)
class Reference:
    """A record naming another object: of its namespace, or cluster-scoped (a Node)."""

    role: ReferenceRole
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Relations:
    """How a kind's records point at other objects, for the "related objects" view.

    ``selector`` names the record field holding a label selector (a
    ``matchLabels`` map); objects of the ``selects`` kinds in the same namespace
    whose labels match are the ones it selects; ``routes`` says the selection
    sends traffic to them (a Service).  A ``controller`` (Deployment,
    StatefulSet, DaemonSet, Job) owns the objects it selects whose name starts
    with its own name and a dash: that is how the platform derives owners when
    the record carries no ``owner_references`` (the upstream operator sends
    none).  ``references`` lists the objects a record names (a Pod's volumes,
    an Ingress's backends) and ``referenced`` the kinds it may name, so the
    platform knows where to look for what names an object ("used by").  A CRD
    plugin declares its own the same way.
    """

    selector: str | None = None
    selects: tuple[str, ...] = ()
    routes: bool = False
    controller: bool = False
    references: Callable[[Mapping[str, Any]], Iterable[Reference]] | None = field(
        default=None, compare=False
    )
    referenced: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """One Kubernetes resource kind, as Obsyk knows it.

    ``snapshot_key`` is the array name in a snapshot body (``pods``, ``pvcs``);
    ``extract`` turns a raw API object into the record and must apply every
    security rule of CONTRACT.md section 4; ``schema`` validates a record on the
    platform (unknown fields must be tolerated: ``unknown = INCLUDE``).

    ``data_hash_extractor`` is for kinds whose values must never leave the
    cluster (Secret, ConfigMap): given the operator's per-installation HMAC key,
    it returns an extractor that also adds ``data_hashes`` (the "secrets hashed
    before transmission" extension of CONTRACT.md section 4).  ``None``: the
    kind has nothing to hash.  ``relations`` (optional) says how its records
    point at other objects (:class:`Relations`).

    ``fast_check`` (optional) answers ``True`` only for records the schema
    accepts, faster than marshmallow (a compiled predicate, see the
    accelerator :mod:`obsyk_plugins.fastcheck`); :meth:`validate` then skips
    marshmallow for them.  ``None``: marshmallow checks every record.
    """

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool
    snapshot_key: str
    extract: Callable[[RawObject], Record]
    schema: type[marshmallow.Schema]
    display: DisplayHints
    data_hash_extractor: Callable[[bytes], Extractor] | None = field(default=None, compare=False)
    #: How its records point at other objects; ``None``: they point at nothing.
    relations: Relations | None = None
    #: Name of the plugin that declared the kind; filled by the registry.
    plugin: str = field(default="", compare=False)
    fast_check: Callable[[Any], bool] | None = field(default=None, compare=False, repr=False)

    @property
    def api_version(self) -> str:
        """``apps/v1`` or, for the core group, ``v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def validate(self, record: Any) -> dict[str, list[str]] | None:
        """Return marshmallow's error dict for an invalid record, else ``None``.

        A ``fast_check`` vouches for valid records in a fraction of
        marshmallow's time; marshmallow runs only when it cannot, so verdicts
        and messages stay marshmallow's.
        """
        if self.fast_check is not None and _vouches(self.fast_check, record):
            return None
        errors: dict[str, list[str]] = self._schema_instance().validate(record)
        return errors or None

    def _schema_instance(self) -> marshmallow.Schema:
        cached = _SCHEMA_INSTANCES.get(self.schema)
        if cached is None:
            cached = _SCHEMA_INSTANCES[self.schema] = self.schema()
        return cached


def _vouches(predicate: Callable[[Any], bool], record: Any) -> bool:
    try:
        return predicate(record)
    except Exception:
        # Whatever the predicate tripped on, marshmallow gives the verdict
        # (and raises the same way if the record makes it raise).
        return False


# Schema instances are stateless after construction; building one per record
# would dominate validation time on a 100k-resource snapshot.
_SCHEMA_INSTANCES: dict[type[marshmallow.Schema], marshmallow.Schema] = {}


class DuplicateKindError(RuntimeError):
    """Two plugins declared the same kind name or snapshot key."""


class UnknownKindError(KeyError):
    """A kind name or snapshot key that no installed plugin declares."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown kind"


class KindRegistry(PluginAttribution):
    """Every resource kind the installed plugins declare, looked up by kind or snapshot key."""

    def __init__(self) -> None:
        super().__init__()
        self._by_kind: dict[str, ResourceKind] = {}
        self._by_key: dict[str, ResourceKind] = {}

    def register(self, kind: ResourceKind) -> None:
        """Add a kind; raise :class:`DuplicateKindError` naming both plugins on a clash."""
        kind = _with_plugin(kind, kind.plugin or self.registering_plugin)
        for index, value, what in (
            (self._by_kind, kind.kind, "kind"),
            (self._by_key, kind.snapshot_key, "snapshot key"),
        ):
            existing = index.get(value)
            if existing is not None:
                raise DuplicateKindError(
                    f"{what} {value!r} is declared by both plugin {existing.plugin!r} "
                    f"and plugin {kind.plugin!r}; disable one with OBSYK_DISABLED_PLUGINS"
                )
        self._by_kind[kind.kind] = kind
        self._by_key[kind.snapshot_key] = kind

    def by_kind(self, name: str) -> ResourceKind:
        try:
            return self._by_kind[name]
        except KeyError:
            raise UnknownKindError(f"no installed plugin declares kind {name!r}") from None

    def by_snapshot_key(self, key: str) -> ResourceKind:
        try:
            return self._by_key[key]
        except KeyError:
            raise UnknownKindError(
                f"no installed plugin declares the snapshot key {key!r}"
            ) from None

    def get(self, name: str) -> ResourceKind | None:
        return self._by_kind.get(name)

    def get_by_snapshot_key(self, key: str) -> ResourceKind | None:
        return self._by_key.get(key)

    def __contains__(self, name: object) -> bool:
        return name in self._by_kind

    def __iter__(self) -> Iterator[ResourceKind]:
        return iter(self._by_kind.values())

    def __len__(self) -> int:
        return len(self._by_kind)

    @property
    def snapshot_keys(self) -> frozenset[str]:
        return frozenset(self._by_key)


def _with_plugin(kind: ResourceKind, plugin: str) -> ResourceKind:
    return kind if kind.plugin == plugin else dataclasses.replace(kind, plugin=plugin)
