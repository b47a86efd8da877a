"""``query_resources`` in SQL agrees with the Python definitions it replaces."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest
from psycopg.types.json import Jsonb
from sqlalchemy import text

from obsyk_core.ingest import IncomingResource
from obsyk_core.labels import LabelRequirement, matches_all
from obsyk_core.storage import ResourceQuery, ResourceRow, Storage, sort_key
from obsyk_core.testing.builders import at, deleted, events, modified, pod, snapshot
from obsyk_plugins.sql_storage.backend import SqlStorage
from obsyk_plugins.sql_storage.queries import resource_query

StorageFactory = Callable[[], Storage]

KEYS = ("app", "tier", "team", "app.kubernetes.io/name")
VALUES = ("a", "b", "c")


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    factory: StorageFactory = request.getfixturevalue(f"{request.param}_storage_factory")
    opened = factory()
    yield opened
    opened.close()


def _random_labels(rng: random.Random) -> dict[str, str]:
    return {key: rng.choice(VALUES) for key in KEYS if rng.random() < 0.6}


def _random_requirement(rng: random.Random) -> LabelRequirement:
    operator = rng.choice(["in", "notin", "exists", "!exists"])
    key = rng.choice(KEYS)
    if operator in ("exists", "!exists"):
        return LabelRequirement(key, operator)
    values = tuple(rng.sample(VALUES, rng.randint(1, 2)))
    return LabelRequirement(key, operator, values)


def _all(storage: Storage, query: ResourceQuery) -> list[ResourceRow]:
    return storage.query_resources(query)


def test_label_selectors_match_kubernetes_semantics(storage: Storage) -> None:
    rng = random.Random(20240501)
    org = storage.create_org("acme")
    cluster = storage.create_cluster(org.id, "prod").id
    pods = [pod(f"u{i:03d}", labels=_random_labels(rng)) for i in range(80)]
    snapshot(storage, cluster, at(0), {"Pod": pods})
    for _ in range(150):
        selector = tuple(_random_requirement(rng) for _ in range(rng.randint(1, 3)))
        rows = _all(storage, ResourceQuery(cluster_ids=(cluster,), labels=selector, limit=1000))
        expected = sorted(p.uid for p in pods if matches_all(p.labels, selector))
        assert sorted(row.uid for row in rows) == expected, selector


def test_pages_cover_everything_once_in_sort_key_order(storage: Storage) -> None:
    org = storage.create_org("acme")
    clusters = [storage.create_cluster(org.id, f"c{i}").id for i in range(3)]
    # Names whose order differs between code point and natural-language collations.
    names = ["a-b", "aB", "a_b", "ab", "Ab", "a.b", "b", "a b"]
    for index, cluster in enumerate(clusters):
        resources = {
            "Pod": [
                pod(f"{cluster}-{ns}-{n}", n, namespace=ns)
                for ns in ("default", "kube-system")
                for n in names
            ],
            "Node": [
                IncomingResource.from_record("Node", {"uid": f"{cluster}-node-{n}", "name": n})
                for n in names[index:]
            ],
        }
        snapshot(storage, cluster, at(0), resources)
    expected = sorted((row for c in clusters for row in _everything(storage, c)), key=sort_key)
    for cluster_ids in (tuple(clusters), (clusters[1],)):
        wanted = [sort_key(row) for row in expected if row.cluster_id in cluster_ids]
        seen: list[tuple[str, str, str, str, str]] = []
        after = None
        while True:
            page = storage.query_resources(
                ResourceQuery(cluster_ids=cluster_ids, after=after, limit=7)
            )
            if not page:
                break
            seen.extend(sort_key(row) for row in page)
            after = sort_key(page[-1])
        assert seen == wanted


def test_page_after_a_position_from_another_cluster(storage: Storage) -> None:
    """A single-cluster listing may resume from a key of a multi-cluster listing."""
    org = storage.create_org("acme")
    first, second = sorted(storage.create_cluster(org.id, n).id for n in ("x", "y"))
    for cluster in (first, second):
        snapshot(storage, cluster, at(0), {"Pod": [pod(f"{cluster}-{n}", n) for n in "abc"]})
    for position_cluster in (first, second):
        after = ("Pod", "default", "b", position_cluster, f"{position_cluster}-b")
        names = [r.name for r in _all(storage, ResourceQuery((second,), after=after))]
        assert names == (["b", "c"] if position_cluster == first else ["c"])


def test_name_filters_are_case_sensitive_and_literal(storage: Storage) -> None:
    org = storage.create_org("acme")
    cluster = storage.create_cluster(org.id, "prod").id
    names = ["web-1", "Web-2", "web_3", "web%4", "api-web"]
    snapshot(storage, cluster, at(0), {"Pod": [pod(f"u{i}", n) for i, n in enumerate(names)]})

    def names_for(**filters: str) -> list[str]:
        query = ResourceQuery(cluster_ids=(cluster,), **filters)  # type: ignore[arg-type]
        return sorted(row.name for row in _all(storage, query))

    assert names_for(name_prefix="web") == ["web%4", "web-1", "web_3"]
    assert names_for(name_prefix="web_") == ["web_3"]
    assert names_for(name_contains="%") == ["web%4"]
    assert names_for(name_contains="b-") == ["Web-2", "web-1"]
    assert names_for(name_contains="Web") == ["Web-2"]


def test_as_of_rebuilds_past_states(storage: Storage) -> None:
    org = storage.create_org("acme")
    cluster = storage.create_cluster(org.id, "prod").id
    old, new = pod("u1", labels={"v": "1"}), pod("u1", labels={"v": "2"})
    snapshot(storage, cluster, at(0), {"Pod": [old, pod("u2")]})
    events(storage, cluster, at(10), modified(new))
    events(storage, cluster, at(20), deleted(pod("u2")))

    def as_of(minutes: float, **options: object) -> dict[str, ResourceRow]:
        query = ResourceQuery((cluster,), as_of=at(minutes), **options)  # type: ignore[arg-type]
        return {row.uid: row for row in _all(storage, query)}

    assert as_of(-1) == {}
    before = as_of(5)
    assert before["u1"].record == old.record and before["u1"].labels == {"v": "1"}
    assert as_of(15)["u1"].updated_at == at(10)
    selector = (LabelRequirement("v", "in", ("1",)),)
    assert list(as_of(5, labels=selector)) == ["u1"]
    assert list(as_of(15, labels=selector)) == []
    assert set(as_of(25)) == {"u1"}
    gone = as_of(25, include_deleted=True)["u2"]
    assert (gone.deleted_at, gone.record) == (at(20), pod("u2").record)


def test_postgresql_answers_listing_filters_from_indexes(
    postgres_storage_factory: StorageFactory,
) -> None:
    storage = postgres_storage_factory()
    assert isinstance(storage, SqlStorage)
    org = storage.create_org("acme")
    clusters = [storage.create_cluster(org.id, f"c{i}").id for i in range(4)]
    for cluster in clusters:
        pods = [
            pod(f"{cluster}-{i}", namespace=f"ns-{i % 10}", labels={"app": f"a{i % 7}"})
            for i in range(500)
        ]
        snapshot(storage, cluster, at(0), {"Pod": pods})
    queries = {
        "kind+namespace+label": ResourceQuery(
            (clusters[0],),
            kind="Pod",
            namespace="ns-3",
            labels=(LabelRequirement("app", "in", ("a1",)),),
        ),
        "next page": ResourceQuery(
            (clusters[0],), kind="Pod", after=("Pod", "ns-3", "x", clusters[0], "y")
        ),
        "label only": ResourceQuery(tuple(clusters), labels=(LabelRequirement("app", "exists"),)),
    }
    with storage.engine.connect() as connection:
        connection.execute(text("ANALYZE resources"))
        # Forbid sequential scans: the plan then shows whether an index *can* answer.
        connection.execute(text("SET enable_seqscan = off"))
        for label, query in queries.items():
            statement, values = resource_query(query, "postgresql")
            # The SQL and values as SQLAlchemy sends them (IN lists expanded).
            sent = statement.compile(dialect=connection.dialect).construct_expanded_state(values)
            params = {
                name: Jsonb(value) if isinstance(value, dict) else value
                for name, value in sent.parameters.items()
            }
            plan = "\n".join(
                row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sent.statement}", params)
            )
            assert "Seq Scan on resources" not in plan, (label, plan)
            assert "ix_resources_" in plan or "pk_resources" in plan, (label, plan)
    storage.close()


def _everything(storage: Storage, cluster_id: str) -> list[ResourceRow]:
    return _all(storage, ResourceQuery(cluster_ids=(cluster_id,), limit=10_000))
