"""``query_resources`` in SQL: filters, label selectors, ``as_of`` and keyset pagination.

Both the live listing and the ``as_of`` reconstruction produce a selectable
with the columns of ``resources`` (``src``), so one set of filters serves both.
"""

from __future__ import annotations

from datetime import UTC
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
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
from obsyk_core.storage import (
    ApiToken,
    ChangeType,
    Membership,
    ResourceQuery,
    ResourceRow,
    Role,
)
from obsyk_plugins.sql_storage import rows
from obsyk_plugins.sql_storage.models import (
    ApiTokenModel,
    ClusterModel,
    JSONDocument,
    MembershipModel,
    ResourceModel,
    ResourceVersionModel,
)

RESULT_COLUMNS = (
    "cluster_id",
    "uid",
    "kind",
    "namespace",
    "name",
    "labels",
    "annotations",
    "record",
    "content_hash",
    "first_seen_at",
    "updated_at",
    "deleted_at",
    "resource_version",
    "observed_at",
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
        select(*(cols[name] for name in RESULT_COLUMNS))
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


# --------------------------------------------------------------------------- prebuilt live listings

#: What decides a live PostgreSQL listing's SQL text, values aside (see :func:`_live_shape`).
LiveShape = tuple[Any, ...]


def prebuilt_resource_query(query: ResourceQuery) -> tuple[Select[Any], dict[str, Any]] | None:
    """``query``'s SELECT on PostgreSQL as a statement built once per shape, plus its values.

    Building and cache-keying a fresh ``select()`` was a fifth of a listing's
    Python; a listing's SQL depends only on which filters are present, so
    the statement is built once per combination with bind parameters, and
    SQLAlchemy's compiled cache finds it by its (memoised) cache key.  The
    text equals :func:`resource_query`'s.  None for an ``as_of`` query (a
    rarer, heavier read): build that one with :func:`resource_query`.
    """
    if query.as_of is not None:
        return None
    return _live_statement(_live_shape(query)), _live_values(query)


def _live_shape(query: ResourceQuery) -> LiveShape:
    return (
        len(query.cluster_ids) == 1,
        query.include_deleted,
        query.kind is not None,
        query.namespace is not None,
        bool(query.name_prefix),
        bool(query.name_contains),
        tuple((r.operator, len(r.values)) for r in query.labels),
        _after_branch(query),
    )


def _after_branch(query: ResourceQuery) -> str | None:
    """Which of :func:`_after`'s comparisons the cursor needs."""
    if query.after is None:
        return None
    if len(query.cluster_ids) != 1:
        return "all"
    cursor_cluster, only = query.after[3], query.cluster_ids[0]
    return "same" if cursor_cluster == only else "before" if cursor_cluster < only else "beyond"


@lru_cache(maxsize=256)
def _live_statement(shape: LiveShape) -> Select[Any]:
    one_cluster, include_deleted, kind, namespace, prefix, contains, labels, after = shape
    cols = ResourceModel.__table__.c
    conditions: list[ColumnElement[bool]] = [
        cols.cluster_id == bindparam("cluster_id")
        if one_cluster
        else cols.cluster_id.in_(bindparam("cluster_ids", expanding=True))
    ]
    if not include_deleted:
        conditions.append(cols.deleted_at.is_(None))
    if kind:
        conditions.append(cols.kind == bindparam("kind"))
    if namespace:
        conditions.append(cols.namespace == bindparam("namespace"))
    # autoescape needs a literal, so the values arrive escaped (see _like_pattern).
    if prefix:
        conditions.append(cols.name.like(bindparam("name_prefix"), escape="/"))
    if contains:
        conditions.append(cols.name.like(bindparam("name_contains"), escape="/"))
    doc = type_coerce(cols.labels, JSONB)
    for index, (operator, count) in enumerate(labels):
        if operator in ("exists", "!exists"):
            key = bindparam(f"label_{index}", type_=String)
            present = cast(ColumnElement[bool], doc.has_key(key))
            conditions.append(present if operator == "exists" else not_(present))
            continue
        any_value = or_(
            *(doc.contains(bindparam(f"label_{index}_{n}", type_=JSONB)) for n in range(count))
        )
        conditions.append(any_value if operator == "in" else not_(any_value))
    if after is not None:
        conditions.append(_prebuilt_after(cols, after))
    return (
        select(*(cols[name] for name in RESULT_COLUMNS))
        .where(*conditions)
        .order_by(*(cols[name] for name in SORT_COLUMNS))
        .limit(bindparam("limit", type_=Integer))
    )


def _prebuilt_after(cols: Any, branch: str) -> ColumnElement[bool]:
    """:func:`_after` with the cursor's values as bind parameters."""
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


def _live_values(query: ResourceQuery) -> dict[str, Any]:
    values: dict[str, Any] = {"limit": max(query.limit, 0)}
    if len(query.cluster_ids) == 1:
        values["cluster_id"] = query.cluster_ids[0]
    else:
        values["cluster_ids"] = list(query.cluster_ids)
    if query.kind is not None:
        values["kind"] = query.kind
    if query.namespace is not None:
        values["namespace"] = query.namespace
    if query.name_prefix:
        values["name_prefix"] = _like_pattern(query.name_prefix) + "%"
    if query.name_contains:
        values["name_contains"] = "%" + _like_pattern(query.name_contains) + "%"
    for index, requirement in enumerate(query.labels):
        if requirement.operator in ("exists", "!exists"):
            values[f"label_{index}"] = requirement.key
        for n, value in enumerate(requirement.values):
            values[f"label_{index}_{n}"] = {requirement.key: value}
    if query.after is not None:
        values.update(zip((f"after_{c}" for c in SORT_COLUMNS), query.after, strict=True))
    return values


def _like_pattern(text: str) -> str:
    """``text`` matched literally by ``LIKE ... ESCAPE '/'`` (what ``autoescape`` does)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


# --------------------------------------------------------------------------- token check + listing

#: The token's columns in :func:`token_listing_query`, named clear of the resource columns.
_TOKEN = "token_"
#: ``ApiToken``'s fields, in the order the statement selects them (then ``role``, then
#: RESULT_COLUMNS): :func:`_token_listing_answer` reads the cells by position.
_TOKEN_FIELDS = ("id", "org_id", "user_id", "token_hash", "name", "created_at", "revoked_at")
#: A valid token with its holder's role (``authenticate_api_token``), and the rows found.
TokenListing = tuple[tuple[ApiToken, Membership] | None, list[ResourceRow]]


def token_listing_query(
    token_hash: str, query: ResourceQuery
) -> tuple[Select[Any], dict[str, Any]] | None:
    """ONE statement answering the token check and a one-cluster live listing on PostgreSQL.

    An API request checked its token in one round trip and read its listing in
    another; this joins them: the unrevoked token and its holder's current
    membership (as ``authenticate_api_token``), and, laterally, the listing of
    :func:`prebuilt_resource_query`, run only when the cluster belongs to the
    token's org.  No row: the token is refused.  One row of NULL resource
    columns: no resource matched (or the cluster is not the org's).  Nothing
    is remembered between requests, so a revoked token or a changed role
    counts on the next one.  None where it does not apply (``as_of``,
    several clusters): check and list separately.  Read with
    :func:`read_token_listing`.
    """
    shape = _one_cluster_live_shape(query)
    if shape is None:
        return None
    return _token_listing_statement(shape), _token_listing_values(token_hash, query)


def _one_cluster_live_shape(query: ResourceQuery) -> LiveShape | None:
    if query.as_of is not None or len(query.cluster_ids) != 1 or query.limit <= 0:
        return None
    return _live_shape(query)


def _token_listing_values(token_hash: str, query: ResourceQuery) -> dict[str, Any]:
    values = _live_values(query)
    values["token_hash"] = token_hash
    return values


@lru_cache(maxsize=256)
def _token_listing_statement(shape: LiveShape) -> Select[Any]:
    tokens, members = ApiTokenModel.__table__, MembershipModel.__table__
    clusters = ClusterModel.__table__
    holder = (
        select(*(tokens.c[name].label(_TOKEN + name) for name in _TOKEN_FIELDS), members.c.role)
        .join_from(
            tokens,
            members,
            and_(members.c.org_id == tokens.c.org_id, members.c.user_id == tokens.c.user_id),
        )
        .where(tokens.c.token_hash == bindparam("token_hash"), tokens.c.revoked_at.is_(None))
        .subquery("holder")
    )
    of_holders_org = (
        exists()
        .where(clusters.c.id == bindparam("cluster_id"), clusters.c.org_id == holder.c.token_org_id)
        .correlate(holder)
    )
    page = _live_statement(shape).where(of_holders_org).lateral("page")
    return (
        select(
            *(holder.c[_TOKEN + name] for name in _TOKEN_FIELDS),
            holder.c.role,
            *(page.c[name] for name in RESULT_COLUMNS),
        )
        .select_from(holder.outerjoin(page, true()))
        .order_by(*(page.c[name] for name in SORT_COLUMNS))
    )


def read_token_listing(result: Any) -> TokenListing:
    """The rows of :func:`token_listing_query`'s statement as (token and membership, rows)."""
    found: tuple[ApiToken, Membership] | None = None
    resources: list[ResourceRow] = []
    for row in result:
        if found is None:
            token = ApiToken(
                id=row.token_id,
                org_id=row.token_org_id,
                user_id=row.token_user_id,
                token_hash=row.token_token_hash,
                name=row.token_name,
                created_at=row.token_created_at,
                revoked_at=row.token_revoked_at,
            )
            found = token, Membership(token.org_id, token.user_id, cast(Role, row.role))
        if row.uid is not None:
            resources.append(rows.resource(row))
    return found, resources


def token_listing(
    connection: Connection, token_hash: str, query: ResourceQuery
) -> TokenListing | None:
    """:func:`token_listing_query` sent through the connection's own psycopg cursor.

    The same SQL text and answer as executing the statement with SQLAlchemy
    and reading it with :func:`read_token_listing`, for less Python (see
    :func:`_fetch_raw`).  None (nothing sent) where the query does not apply.
    """
    shape = _one_cluster_live_shape(query)
    if shape is None:
        return None
    sql, json_params = _compiled(_token_listing_statement(shape), connection.dialect)
    values = _token_listing_values(token_hash, query)
    return _token_listing_answer(_fetch_raw(connection, sql, values, json_params))


def live_listing(connection: Connection, query: ResourceQuery) -> list[ResourceRow] | None:
    """:func:`prebuilt_resource_query`'s SELECT for ONE cluster, through psycopg's cursor.

    The same SQL text and rows as executing it with SQLAlchemy and reading each
    row with ``rows.resource``; None (nothing sent) for ``as_of``, several
    clusters (their expanding ``IN`` is SQLAlchemy's to render) or no rows asked.
    """
    shape = _one_cluster_live_shape(query)
    if shape is None:
        return None
    sql, json_params = _compiled(_live_statement(shape), connection.dialect)
    cells = _fetch_raw(connection, sql, _live_values(query), json_params)
    return [_resource(row) for row in cells]


def _fetch_raw(
    connection: Connection, sql: str, values: dict[str, Any], json_params: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """``sql``'s rows as psycopg returns them, skipping SQLAlchemy's execute and result.

    That machinery cost ~0.1 ms of a ~0.5 ms listing request.  psycopg's own
    errors propagate (``storage_errors`` knows them); a lost connection is
    invalidated, as SQLAlchemy does on a disconnect it sees, so the pool drops
    it (other dead pooled connections fail their own first statement).
    """
    import psycopg  # here: SQLite-only installs lack it (see errors.py)
    from psycopg.types.json import Jsonb

    for name in json_params:
        values[name] = Jsonb(values[name])  # what SQLAlchemy's JSONB type binds
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.cursor() as cursor:
            cursor.execute(sql, values)
            return cursor.fetchall()
    except psycopg.OperationalError as error:
        if driver.broken:
            connection.invalidate(error)
        raise


@lru_cache(maxsize=512)
def _compiled(statement: Select[Any], dialect: Dialect) -> tuple[str, tuple[str, ...]]:
    """A prebuilt statement's SQL as SQLAlchemy sends it, and its JSONB parameters."""
    compiled = statement.compile(dialect=dialect)
    json_params = tuple(
        name for name, bind in compiled.binds.items() if isinstance(bind.type, JSONB)
    )
    return compiled.string, json_params


_ROLE_AT = len(_TOKEN_FIELDS)
_RESOURCE_AT = _ROLE_AT + 1


def _token_listing_answer(cells: list[tuple[Any, ...]]) -> TokenListing:
    """Raw rows as :func:`read_token_listing` reads them through SQLAlchemy's types."""
    if not cells:
        return None, []
    token_id, org_id, user_id, token_hash, name, created_at, revoked_at = cells[0][:_ROLE_AT]
    token = ApiToken(
        id=token_id,
        org_id=org_id,
        user_id=user_id,
        token_hash=token_hash,
        name=name,
        created_at=_utc(created_at),
        revoked_at=_utc(revoked_at),
    )
    found = token, Membership(org_id, user_id, cast(Role, cells[0][_ROLE_AT]))
    if cells[0][_RESOURCE_AT + 1] is None:  # no uid: the page is empty
        return found, []
    return found, [_resource(row[_RESOURCE_AT:]) for row in cells]


def _resource(cells: tuple[Any, ...]) -> ResourceRow:
    """``rows.resource`` for the raw cells of RESULT_COLUMNS (types as ``ResourceModel``'s)."""
    (cluster_id, uid, kind, namespace, name, labels, annotations, record, content_hash,
     first_seen_at, updated_at, deleted_at, resource_version, observed_at) = cells  # fmt: skip
    return ResourceRow(
        cluster_id=cluster_id,
        uid=uid,
        kind=kind,
        namespace=rows.namespace_out(namespace),
        name=name,
        labels=labels or {},
        annotations=annotations or {},
        record=record or {},
        content_hash=content_hash,
        first_seen_at=_utc(first_seen_at),
        updated_at=_utc(updated_at),
        deleted_at=_utc(deleted_at),
        resource_version=resource_version,
        observed_at=_utc(observed_at),
    )


def _utc(value: Any) -> Any:
    """What ``UTCDateTime`` makes of a ``timestamptz`` psycopg read in the session's zone."""
    return None if value is None else value.astimezone(UTC)


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
