"""PostgreSQL listings use a statement built once per filter shape: same answers as a fresh one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from obsyk_core.labels import parse_label_selector
from obsyk_core.storage import ResourceQuery
from obsyk_core.testing.builders import at, pod, snapshot
from obsyk_plugins.sql_storage import rows
from obsyk_plugins.sql_storage.backend import SqlStorage
from obsyk_plugins.sql_storage.queries import (
    TokenListing,
    live_listing,
    prebuilt_resource_query,
    read_token_listing,
    resource_query,
    token_listing,
    token_listing_query,
)


@pytest.fixture
def storage(postgres_storage_factory) -> Iterator[SqlStorage]:
    opened = postgres_storage_factory()
    assert isinstance(opened, SqlStorage)
    yield opened
    opened.close()


def _names_both_ways(storage: SqlStorage, query: ResourceQuery) -> tuple[list[str], list[str]]:
    prebuilt = prebuilt_resource_query(query)
    assert prebuilt is not None
    with storage.engine.connect() as connection:
        # Away from UTC: the raw reading must still answer UTC times (as UTCDateTime does).
        connection.exec_driver_sql("SET TIME ZONE 'Asia/Kolkata'")
        fresh = [row.name for row in connection.execute(resource_query(query, "postgresql"))]
        read = [rows.resource(row) for row in connection.execute(*prebuilt)]
        raw = live_listing(connection, query)
    if len(query.cluster_ids) == 1:
        assert repr(raw) == repr(read)  # repr: time zones compared too
    else:
        assert raw is None  # several clusters: SQLAlchemy renders their IN
    return fresh, [row.name for row in read]


def test_every_filter_shape_answers_like_a_fresh_select(storage: SqlStorage) -> None:
    org = storage.create_org("acme")
    first, second = sorted(storage.create_cluster(org.id, n).id for n in ("x", "y"))
    names = ["web-1", "web_2", "web%3", "a/b_web", "api", "db-0"]
    pods = {
        cluster: [
            pod(f"{cluster}-{i}", n, labels={"app": n.split("-")[0], "tier": str(i % 3)})
            for i, n in enumerate(names)
        ]
        for cluster in (first, second)
    }
    for cluster, its_pods in pods.items():
        snapshot(storage, cluster, at(0), {"Pod": its_pods})
    snapshot(storage, first, at(1), {"Pod": [p for p in pods[first] if p.name != "api"]})
    both = (first, second)
    queries = [
        ResourceQuery((first,), kind="Pod", namespace="default"),
        ResourceQuery(both, name_prefix="web_"),
        ResourceQuery(both, name_prefix="a/b"),
        ResourceQuery((second,), name_contains="%"),
        ResourceQuery(both, labels=parse_label_selector("tier in (0,2),app!=api,!gone,tier")),
        ResourceQuery((first,), include_deleted=True, limit=2),
        ResourceQuery(both, after=("Pod", "default", "api", first, f"{first}-4")),
        # A single-cluster listing resumed from the same, an earlier and a later cluster's key.
        ResourceQuery((second,), after=("Pod", "default", "web%3", second, f"{second}-2")),
        ResourceQuery((second,), after=("Pod", "default", "web%3", first, f"{first}-2")),
        ResourceQuery((first,), after=("Pod", "default", "web%3", second, f"{second}-2")),
        ResourceQuery((first,), include_deleted=True, name_prefix="api"),
    ]
    answers = []
    for query in queries:
        fresh, cached = _names_both_ways(storage, query)
        assert cached == fresh
        answers.append(cached)
    assert answers[1] == ["web_2", "web_2"] and answers[2] == ["a/b_web", "a/b_web"]
    assert answers[3] == ["web%3"]
    assert answers[5] == ["a/b_web", "api"]
    assert answers[7:10] == [["web-1", "web_2"], ["web%3", "web-1", "web_2"], ["web-1", "web_2"]]
    assert answers[10] == ["api"]  # deleted: its deleted_at read back too


def test_as_of_queries_are_not_prebuilt() -> None:
    assert prebuilt_resource_query(ResourceQuery(("c",), as_of=at(0))) is None


# --------------------------------------------------------------------------- token check + listing


def _token_listing(storage: SqlStorage, token_hash: str, query: ResourceQuery) -> TokenListing:
    """The answer read through psycopg's cursor, checked against SQLAlchemy's reading."""
    joined = token_listing_query(token_hash, query)
    assert joined is not None
    with storage.engine.connect() as connection:
        # Away from UTC: both readings must still answer UTC times (as UTCDateTime does).
        connection.exec_driver_sql("SET TIME ZONE 'Asia/Kolkata'")
        through_sqlalchemy = read_token_listing(connection.execute(*joined))
        raw = token_listing(connection, token_hash, query)
    assert repr(raw) == repr(through_sqlalchemy)  # repr: time zones compared too
    return raw


def test_token_check_joined_to_a_listing_answers_both_reads(storage: SqlStorage) -> None:
    """One statement answers what authenticate_api_token and query_resources answer apart."""
    org = storage.create_org("acme")
    cluster = storage.create_cluster(org.id, "x").id
    names = ["web-1", "web-2", "api-1", "db-0"]
    pods = [pod(f"u-{n}", n, labels={"app": n.split("-")[0]}) for n in names]
    snapshot(storage, cluster, at(0), {"Pod": pods})
    snapshot(storage, cluster, at(1), {"Pod": pods[:3]})  # db-0 is deleted
    user = storage.ensure_user("ann@example.com")
    storage.set_membership(org.id, user.id, "viewer")
    storage.create_api_token(org.id, user.id, "hash-ann", "laptop")
    queries = [
        ResourceQuery((cluster,), kind="Pod", namespace="default", limit=101),
        ResourceQuery((cluster,), labels=parse_label_selector("app in (web,db)"), limit=2),
        ResourceQuery((cluster,), after=("Pod", "default", "api-1", cluster, "u-api-1")),
        ResourceQuery((cluster,), name_prefix="nothing-"),
        ResourceQuery((cluster,), include_deleted=True, name_prefix="db-"),
    ]
    for query in queries:
        found, rows = _token_listing(storage, "hash-ann", query)
        assert found == storage.authenticate_api_token("hash-ann")
        assert rows == storage.query_resources(query)
    assert [len(_token_listing(storage, "hash-ann", q)[1]) for q in queries] == [3, 2, 2, 0, 1]


def test_token_listing_refuses_as_the_token_check_does(storage: SqlStorage) -> None:
    """Unknown or revoked: nothing; a role change counts at once; no rows of other orgs."""
    org, other = storage.create_org("acme"), storage.create_org("globex")
    cluster = storage.create_cluster(org.id, "x").id
    foreign = storage.create_cluster(other.id, "y").id
    for owner in (cluster, foreign):
        snapshot(storage, owner, at(0), {"Pod": [pod(f"{owner}-p", "p")]})
    user = storage.ensure_user("bob@example.com")
    storage.set_membership(org.id, user.id, "viewer")
    token = storage.create_api_token(org.id, user.id, "hash-bob", "ci")
    mine, theirs = ResourceQuery((cluster,)), ResourceQuery((foreign,))

    assert _token_listing(storage, "hash-nobody", mine) == (None, [])
    found, rows = _token_listing(storage, "hash-bob", theirs)
    assert found is not None and rows == []
    storage.set_membership(org.id, user.id, "admin")
    found, rows = _token_listing(storage, "hash-bob", mine)
    assert found is not None and found[1].role == "admin" and [r.name for r in rows] == ["p"]
    storage.revoke_api_token(token.id, at(1))
    assert _token_listing(storage, "hash-bob", mine) == (None, [])


def test_token_listing_leaves_as_of_and_several_clusters_to_separate_reads() -> None:
    assert token_listing_query("h", ResourceQuery(("c",), as_of=at(0))) is None
    assert token_listing_query("h", ResourceQuery(("c", "d"))) is None
    assert token_listing(None, "h", ResourceQuery(("c", "d"))) is None  # type: ignore[arg-type]


def test_token_listing_on_a_lost_connection_drops_it_from_the_pool(storage: SqlStorage) -> None:
    """A killed server session fails that read (503 upstream) and is never handed out again."""
    import psycopg

    org = storage.create_org("acme")
    cluster = storage.create_cluster(org.id, "x").id
    with storage.engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        connection.commit()
        with storage.engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        with pytest.raises(psycopg.OperationalError):
            token_listing(connection, "h", ResourceQuery((cluster,)))
        assert connection.invalidated
    # The next reads connect afresh instead of failing on the dead session.
    for _ in range(3):
        assert _token_listing(storage, "h", ResourceQuery((cluster,))) == (None, [])
