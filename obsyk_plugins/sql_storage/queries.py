"""``query_resources`` in SQL: ONE builder for every listing.

A listing's SQL depends only on its *shape*: the dialect and which filters it
has (one cluster or several, ``as_of``, deleted rows, kind, namespace, name
prefix or substring, each label requirement's operator and number of values,
which keyset comparison its cursor needs), never on their values.  So the
SELECT is built once per shape with bind parameters (:func:`_statement`, kept
by an ``lru_cache``) and each listing only binds its values
(:func:`_values`): building a ``select()`` and computing its cache key for
SQLAlchemy's compiled cache cost more than the rest of a listing's Python
(storage CPU per listing 0.62-0.70 ms that way, 0.32 ms this way; 1.27x end
to end through the API: bench/RESULTS.md, 2026-12-05).  Both the live
listing and the ``as_of`` reconstruction produce a selectable with the
columns of ``resources`` (``src``), so one set of filters serves both.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    not_,
    null,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB

from obsyk_core.storage import ChangeType, ResourceQuery
from obsyk_plugins.sql_storage.models import (
    RESOURCE_COLUMNS,
    JSONDocument,
    ResourceModel,
    ResourceVersionModel,
)

SORT_COLUMNS = ("kind", "namespace", "name", "cluster_id", "uid")

#: What decides a listing's SQL text, its values aside (see :func:`_shape`).
Shape = tuple[Any, ...]
#: The cluster scope of a column: ``= :cluster_id`` or ``IN (:cluster_ids)``.
Scope = Callable[[Any], ColumnElement[bool]]


def resource_query(query: ResourceQuery, dialect: str) -> tuple[Select[Any], dict[str, Any]]:
    """The SELECT answering ``query`` on ``dialect`` (``postgresql``, ``sqlite``); its values."""
    return _statement(_shape(query, dialect)), _values(query, dialect)


def _shape(query: ResourceQuery, dialect: str) -> Shape:
    return (
        dialect,
        len(query.cluster_ids) == 1,
        query.as_of is not None,
        query.include_deleted,
        query.kind is not None,
        query.namespace is not None,
        bool(query.name_prefix),
        bool(query.name_contains),
        tuple((r.operator, len(r.values)) for r in query.labels),
        _after_branch(query),
    )


def _after_branch(query: ResourceQuery) -> str | None:
    """Which keyset comparison the cursor needs (see :func:`_after`)."""
    if query.after is None:
        return None
    if len(query.cluster_ids) != 1:
        return "all"
    cursor_cluster, only = query.after[3], query.cluster_ids[0]
    return "same" if cursor_cluster == only else "before" if cursor_cluster < only else "beyond"


@lru_cache(maxsize=512)
def _statement(shape: Shape) -> Select[Any]:
    (
        dialect,
        one_cluster,
        as_of,
        include_deleted,
        kind,
        namespace,
        prefix,
        contains,
        labels,
        after,
    ) = shape

    def in_scope(column: Any) -> ColumnElement[bool]:
        if one_cluster:  # the planner's favourite
            return cast(ColumnElement[bool], column == bindparam("cluster_id"))
        return cast(ColumnElement[bool], column.in_(bindparam("cluster_ids", expanding=True)))

    conditions: list[ColumnElement[bool]] = []
    if as_of:
        src = _as_of_source(dialect, in_scope, include_deleted)  # scoped inside
    else:
        src = ResourceModel.__table__
        conditions.append(in_scope(src.c.cluster_id))
        if not include_deleted:
            conditions.append(src.c.deleted_at.is_(None))
    cols = src.c
    if kind:
        conditions.append(cols.kind == bindparam("kind"))
    if namespace:
        conditions.append(cols.namespace == bindparam("namespace"))
    # The values arrive escaped for LIKE (see _like_pattern).
    if prefix:
        conditions.append(cols.name.like(bindparam("name_prefix"), escape="/"))
    if contains:
        conditions.append(cols.name.like(bindparam("name_contains"), escape="/"))
    for index, (operator, count) in enumerate(labels):
        conditions.append(_label_condition(dialect, cols.labels, index, operator, count))
    if after is not None:
        conditions.append(_after(cols, after))
    return (
        select(*(cols[name] for name in RESOURCE_COLUMNS))
        .where(*conditions)
        .order_by(*(cols[name] for name in SORT_COLUMNS))
        .limit(bindparam("limit", type_=Integer))
    )


def _after(cols: Any, branch: str) -> ColumnElement[bool]:
    """Rows strictly after the cursor, in sort-key order (a row-value comparison).

    For one cluster the constant ``cluster_id`` is left out of the comparison so
    the (cluster_id, kind, namespace, name, uid) index can range-scan it: a
    cursor of that cluster compares the rest, one of a cluster sorting before
    it starts at its (kind, namespace, name), one of a cluster after it past it.
    """
    kind, namespace, name, cluster_id, uid = [
        bindparam(f"after_{c}", type_=String) for c in SORT_COLUMNS
    ]
    if branch == "same":
        return tuple_(cols.kind, cols.namespace, cols.name, cols.uid) > tuple_(
            kind, namespace, name, uid
        )
    head = tuple_(cols.kind, cols.namespace, cols.name)
    if branch == "before":
        return head >= tuple_(kind, namespace, name)
    if branch == "beyond":
        return head > tuple_(kind, namespace, name)
    return tuple_(*(cols[c] for c in SORT_COLUMNS)) > tuple_(kind, namespace, name, cluster_id, uid)


def _label_condition(
    dialect: str, labels: Any, index: int, operator: str, count: int
) -> ColumnElement[bool]:
    """Requirement ``index`` of the selector, with Kubernetes semantics (``notin`` matches a
    missing key); its values are bound by :func:`_label_values`."""
    if dialect == "postgresql":
        # @> and ? are what the GIN index on labels answers.
        doc = type_coerce(labels, JSONB)
        if operator in ("exists", "!exists"):
            present = cast(
                ColumnElement[bool], doc.has_key(bindparam(f"label_{index}", type_=String))
            )
            return present if operator == "exists" else not_(present)
        any_value = or_(
            *(doc.contains(bindparam(f"label_{index}_{n}", type_=JSONB)) for n in range(count))
        )
        return any_value if operator == "in" else not_(any_value)
    path = bindparam(f"label_{index}", type_=String)
    if operator == "exists":
        return func.json_type(labels, path).is_not(None)
    if operator == "!exists":
        return func.json_type(labels, path).is_(None)
    value = func.json_extract(labels, path)
    wanted: Any = bindparam(f"label_{index}_values", expanding=True)
    if operator == "in":
        return value.in_(wanted)
    return or_(value.is_(None), value.not_in(wanted))


def _values(query: ResourceQuery, dialect: str) -> dict[str, Any]:
    values: dict[str, Any] = {"limit": max(query.limit, 0)}
    if len(query.cluster_ids) == 1:
        values["cluster_id"] = query.cluster_ids[0]
    else:
        values["cluster_ids"] = list(query.cluster_ids)
    if query.as_of is not None:
        values["as_of"] = query.as_of
    if query.kind is not None:
        values["kind"] = query.kind
    if query.namespace is not None:
        values["namespace"] = query.namespace
    if query.name_prefix:
        values["name_prefix"] = _like_pattern(query.name_prefix) + "%"
    if query.name_contains:
        values["name_contains"] = "%" + _like_pattern(query.name_contains) + "%"
    for index, requirement in enumerate(query.labels):
        key = requirement.key
        if dialect == "postgresql":
            values[f"label_{index}"] = key
            for n, value in enumerate(requirement.values):
                values[f"label_{index}_{n}"] = {key: value}
            continue
        if '"' in key:
            raise ValueError(f"invalid label key {key!r}")
        values[f"label_{index}"] = f'$."{key}"'
        values[f"label_{index}_values"] = list(requirement.values)
    if query.after is not None:
        values.update(zip((f"after_{c}" for c in SORT_COLUMNS), query.after, strict=True))
    return values


def _like_pattern(text: str) -> str:
    """``text`` matched literally by ``LIKE ... ESCAPE '/'`` (what ``autoescape`` does)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


# --------------------------------------------------------------------------- as_of


def _as_of_source(dialect: str, in_scope: Scope, include_deleted: bool) -> FromClause:
    """Each resource as it stood at ``as_of``, rebuilt from history.

    The state is the newest version (by application order) changed at or
    before ``as_of``; its record is the newest one that has a record, so a
    resource deleted by then still shows what it last looked like.
    """
    version = ResourceVersionModel
    per_resource = (version.cluster_id, version.uid)
    as_of = bindparam("as_of", type_=ResourceVersionModel.changed_at.type)
    scope = and_(in_scope(version.cluster_id), version.changed_at <= as_of)
    latest = (
        select(
            version.cluster_id,
            version.uid,
            version.kind,
            version.namespace,
            version.name,
            version.change,
            version.content_hash,
            version.changed_at,
            func.min(version.changed_at).over(partition_by=per_resource).label("first_seen_at"),
            func.row_number()
            .over(partition_by=per_resource, order_by=version.id.desc())
            .label("newest"),
        )
        .where(scope)
        .subquery("latest")
    )
    with_record = (
        select(
            version.cluster_id,
            version.uid,
            version.record,
            version.content_hash,
            func.row_number()
            .over(partition_by=per_resource, order_by=version.id.desc())
            .label("newest"),
        )
        .where(scope, version.record.is_not(None))
        .subquery("with_record")
    )
    deleted = latest.c.change == ChangeType.DELETED.value
    record = with_record.c.record
    if dialect == "postgresql":
        labels: Any = type_coerce(record, JSONB)["labels"]
        annotations: Any = type_coerce(record, JSONB)["annotations"]
    else:
        labels = func.json_extract(record, "$.labels")
        annotations = func.json_extract(record, "$.annotations")
    rebuilt = (
        select(
            latest.c.cluster_id,
            latest.c.uid,
            latest.c.kind,
            latest.c.namespace,
            latest.c.name,
            type_coerce(labels, JSONDocument).label("labels"),
            type_coerce(annotations, JSONDocument).label("annotations"),
            record.label("record"),
            func.coalesce(with_record.c.content_hash, latest.c.content_hash).label("content_hash"),
            latest.c.first_seen_at,
            latest.c.changed_at.label("updated_at"),
            case((deleted, latest.c.changed_at), else_=null()).label("deleted_at"),
            type_coerce(null(), ResourceModel.resource_version.type).label("resource_version"),
            latest.c.changed_at.label("observed_at"),
        )
        .select_from(latest)
        .outerjoin(
            with_record,
            and_(
                with_record.c.cluster_id == latest.c.cluster_id,
                with_record.c.uid == latest.c.uid,
                with_record.c.newest == 1,
            ),
        )
        .where(latest.c.newest == 1, true() if include_deleted else not_(deleted))
    )
    return rebuilt.subquery("as_of")
