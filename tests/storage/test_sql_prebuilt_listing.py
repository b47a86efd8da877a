"""PostgreSQL listings use a statement built once per filter shape: same answers as a fresh one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from obsyk_core.labels import parse_label_selector
from obsyk_core.storage import ResourceQuery
from obsyk_core.testing.builders import at, pod, snapshot
from obsyk_plugins.sql_storage.backend import SqlStorage
from obsyk_plugins.sql_storage.queries import prebuilt_resource_query, resource_query


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
        fresh = [row.name for row in connection.execute(resource_query(query, "postgresql"))]
        cached = [row.name for row in connection.execute(*prebuilt)]
    return fresh, cached


def test_every_filter_shape_answers_like_a_fresh_select(storage: SqlStorage) -> None:
    org = storage.create_org("acme")
    first, second = sorted(storage.create_cluster(org.id, n).id for n in ("x", "y"))
    names = ["web-1", "web_2", "web%3", "a/b_web", "api", "db-0"]
    for cluster in (first, second):
        pods = [
            pod(f"{cluster}-{i}", n, labels={"app": n.split("-")[0], "tier": str(i % 3)})
            for i, n in enumerate(names)
        ]
        snapshot(storage, cluster, at(0), {"Pod": pods})
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
    ]
    answers = []
    for query in queries:
        fresh, cached = _names_both_ways(storage, query)
        assert cached == fresh
        answers.append(cached)
    assert answers[1] == ["web_2", "web_2"] and answers[2] == ["a/b_web", "a/b_web"]
    assert answers[3] == ["web%3"]
    assert answers[5] == ["a/b_web", "api"]
    assert answers[7:] == [["web-1", "web_2"], ["web%3", "web-1", "web_2"], ["web-1", "web_2"]]


def test_as_of_queries_are_not_prebuilt() -> None:
    assert prebuilt_resource_query(ResourceQuery(("c",), as_of=at(0))) is None
