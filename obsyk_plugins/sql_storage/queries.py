"""``query_resources`` in SQL: filters, label selectors, ``as_of`` and keyset pagination.

Both the live listing and the ``as_of`` reconstruction produce a selectable
with the columns of ``resources`` (``src``), so one set of filters serves both.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    case,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB

from obsyk_core.labels import LabelRequirement
from obsyk_core.storage import ChangeType, ResourceQuery
from obsyk_plugins.sql_storage.models import (
    RESOURCE_COLUMNS,
    JSONDocument,
    ResourceModel,
    ResourceVersionModel,
)

SORT_COLUMNS = ("kind", "namespace", "name", "cluster_id", "uid")


def resource_query(query: ResourceQuery, dialect: str) -> Select[Any]:
    """The SELECT answering ``query`` on ``dialect`` (``postgresql`` or ``sqlite``)."""
    src = ResourceModel.__table__ if query.as_of is None else _as_of_source(query, dialect)
    cols = src.c
    conditions: list[ColumnElement[bool]] = [_in_clusters(cols.cluster_id, query.cluster_ids)]
    if query.as_of is None and not query.include_deleted:
        conditions.append(cols.deleted_at.is_(None))
    if query.kind is not None:
        conditions.append(cols.kind == query.kind)
    if query.namespace is not None:
        conditions.append(cols.namespace == query.namespace)
    if query.name_prefix:
        conditions.append(cols.name.startswith(query.name_prefix, autoescape=True))
    if query.name_contains:
        conditions.append(cols.name.contains(query.name_contains, autoescape=True))
    conditions.extend(label_condition(cols.labels, r, dialect) for r in query.labels)
    if query.after is not None:
        conditions.append(_after(cols, query))
    return (
        select(*(cols[name] for name in RESOURCE_COLUMNS))
        .where(*conditions)
        .order_by(*(cols[name] for name in SORT_COLUMNS))
        .limit(max(query.limit, 0))
    )


def _in_clusters(column: Any, cluster_ids: tuple[str, ...]) -> ColumnElement[bool]:
    if len(cluster_ids) == 1:
        return cast(ColumnElement[bool], column == cluster_ids[0])  # the planner's favourite
    return cast(ColumnElement[bool], column.in_(cluster_ids))


def _after(cols: Any, query: ResourceQuery) -> ColumnElement[bool]:
    """Rows strictly after the position, in sort-key order (a row-value comparison)."""
    assert query.after is not None
    kind, namespace, name, cluster_id, uid = query.after
    if len(query.cluster_ids) == 1:
        # One cluster: drop the constant cluster_id from the comparison so the
        # (cluster_id, kind, namespace, name, uid) index can range-scan it.
        only = query.cluster_ids[0]
        head = tuple_(cols.kind, cols.namespace, cols.name)
        if cluster_id == only:
            return tuple_(cols.kind, cols.namespace, cols.name, cols.uid) > tuple_(
                literal(kind), literal(namespace), literal(name), literal(uid)
            )
        position = tuple_(literal(kind), literal(namespace), literal(name))
        return head >= position if cluster_id < only else head > position
    return tuple_(*(cols[c] for c in SORT_COLUMNS)) > tuple_(*(literal(v) for v in query.after))


# --------------------------------------------------------------------------- label selectors


def label_condition(
    labels: Any, requirement: LabelRequirement, dialect: str
) -> ColumnElement[bool]:
    """One selector clause, with Kubernetes semantics (``notin`` matches a missing key)."""
    if dialect == "postgresql":
        return _postgres_label_condition(type_coerce(labels, JSONB), requirement)
    return _sqlite_label_condition(labels, requirement)


def _postgres_label_condition(doc: Any, requirement: LabelRequirement) -> ColumnElement[bool]:
    # @> and ? are what the GIN index on labels answers.
    key = requirement.key
    if requirement.operator == "exists":
        return cast(ColumnElement[bool], doc.has_key(key))
    if requirement.operator == "!exists":
        return not_(cast(ColumnElement[bool], doc.has_key(key)))
    any_value = or_(*(doc.contains({key: value}) for value in requirement.values))
    return any_value if requirement.operator == "in" else not_(any_value)


def _sqlite_label_condition(labels: Any, requirement: LabelRequirement) -> ColumnElement[bool]:
    if '"' in requirement.key:
        raise ValueError(f"invalid label key {requirement.key!r}")
    path = f'$."{requirement.key}"'
    if requirement.operator == "exists":
        return func.json_type(labels, path).is_not(None)
    if requirement.operator == "!exists":
        return func.json_type(labels, path).is_(None)
    value = func.json_extract(labels, path)
    if requirement.operator == "in":
        return value.in_(requirement.values)
    return or_(value.is_(None), value.not_in(requirement.values))


# --------------------------------------------------------------------------- as_of


def _as_of_source(query: ResourceQuery, dialect: str) -> FromClause:
    """Each resource as it stood at ``as_of``, rebuilt from history.

    The state is the newest version (by application order) changed at or
    before ``as_of``; its record is the newest one that has a record, so a
    resource deleted by then still shows what it last looked like.
    """
    assert query.as_of is not None
    version = ResourceVersionModel
    per_resource = (version.cluster_id, version.uid)
    scope = and_(
        _in_clusters(version.cluster_id, query.cluster_ids), version.changed_at <= query.as_of
    )
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
        .where(latest.c.newest == 1, true() if query.include_deleted else not_(deleted))
    )
    return rebuilt.subquery("as_of")
