"""Listing, filtering, label selectors, pagination, counts and bulk reads."""

from __future__ import annotations

import dataclasses

from obsyk_core.ingest import IncomingResource
from obsyk_core.labels import parse_label_selector
from obsyk_core.storage import ResourceQuery, ResourceRow, Storage, sort_key
from obsyk_core.testing.base import ConformanceBase
from obsyk_core.testing.builders import at, deployment, node, pod, snapshot


def _uids(rows: list[ResourceRow]) -> list[str]:
    return [row.uid for row in rows]


class QueryConformance(ConformanceBase):
    def _fleet(self, obsyk_storage: Storage) -> tuple[str, str]:
        """Two clusters of one org with pods, deployments and nodes; one pod deleted."""
        org = obsyk_storage.create_org("acme")
        prod = obsyk_storage.create_cluster(org.id, "prod").id
        dev = obsyk_storage.create_cluster(org.id, "dev").id
        snapshot(
            obsyk_storage,
            prod,
            at(0),
            {
                "Pod": [
                    pod("p-web-0", "web-0", labels={"app": "web", "tier": "frontend"}),
                    pod("p-web-1", "web-1", labels={"app": "web", "tier": "frontend"}),
                    pod("p-api-0", "api-0", namespace="payments", labels={"app": "api"}),
                    pod("p-batch", "nightly-batch", namespace="jobs"),
                    pod("p-gone", "web-old", labels={"app": "web"}),
                ],
                "Deployment": [
                    deployment("d-web", "web", labels={"app": "web"}),
                    deployment("d-api", "api", namespace="payments", labels={"app": "api"}),
                ],
                "Node": [node("n-1", "worker-1"), node("n-2", "worker-2")],
            },
        )
        snapshot(
            obsyk_storage,
            prod,
            at(5),
            {"Pod": [pod(u, n, namespace=ns, labels=lb) for u, n, ns, lb in _PROD_PODS_AFTER]},
        )
        snapshot(
            obsyk_storage,
            dev,
            at(0),
            {"Pod": [pod("dev-web", "web-0", labels={"app": "web", "env": "dev"})]},
        )
        return prod, dev

    @staticmethod
    def _found(obsyk_storage: Storage, query: ResourceQuery) -> list[str]:
        """The uids a query finds, sorted (for tests about *what* is found, not its order)."""
        return sorted(_uids(obsyk_storage.query_resources(query)))

    def test_results_are_sorted_by_sort_key(self, obsyk_storage: Storage) -> None:
        prod, dev = self._fleet(obsyk_storage)
        rows = obsyk_storage.query_resources(ResourceQuery(cluster_ids=(prod, dev), limit=1000))
        assert [sort_key(row) for row in rows] == sorted(sort_key(row) for row in rows)
        assert len(rows) == 9, "live resources only"

    def test_filters(self, obsyk_storage: Storage) -> None:
        prod, dev = self._fleet(obsyk_storage)

        def found(*clusters: str, **filters: str) -> list[str]:
            query = ResourceQuery(
                cluster_ids=clusters,
                kind=filters.get("kind"),
                namespace=filters.get("namespace"),
                name_prefix=filters.get("name_prefix"),
                name_contains=filters.get("name_contains"),
            )
            return self._found(obsyk_storage, query)

        assert found(prod, kind="Node") == ["n-1", "n-2"]
        assert found(prod, kind="Pod", namespace="payments") == ["p-api-0"]
        assert found(prod, namespace="payments") == ["d-api", "p-api-0"]
        assert found(prod, kind="Pod", name_prefix="web-") == ["p-web-0", "p-web-1"]
        assert found(prod, name_contains="batch") == ["p-batch"]
        assert found(prod, name_contains="eb-") == ["p-web-0", "p-web-1"]
        assert found(dev) == ["dev-web"]
        assert found(prod, dev, kind="Pod", name_prefix="web-0") == ["dev-web", "p-web-0"]
        assert found(prod, kind="Secret") == []
        assert found() == []

    def test_deleted_resources_only_when_asked(self, obsyk_storage: Storage) -> None:
        prod, _ = self._fleet(obsyk_storage)
        live = self._found(obsyk_storage, ResourceQuery(cluster_ids=(prod,), kind="Pod"))
        assert "p-gone" not in live
        with_deleted = obsyk_storage.query_resources(
            ResourceQuery(cluster_ids=(prod,), kind="Pod", include_deleted=True)
        )
        gone = [row for row in with_deleted if row.uid == "p-gone"]
        assert len(gone) == 1 and gone[0].deleted_at == at(5)

    def test_label_selectors_have_kubernetes_semantics(self, obsyk_storage: Storage) -> None:
        prod, _ = self._fleet(obsyk_storage)

        def select(text: str) -> list[str]:
            labels = parse_label_selector(text)
            query = ResourceQuery(cluster_ids=(prod,), kind="Pod", labels=labels)
            return self._found(obsyk_storage, query)

        assert select("app=web") == ["p-web-0", "p-web-1"]
        assert select("app==api") == ["p-api-0"]
        # != and notin also match pods that have no such label, as kubectl does.
        assert select("app!=web") == ["p-api-0", "p-batch"]
        assert select("app in (web,api)") == ["p-api-0", "p-web-0", "p-web-1"]
        assert select("app notin (web)") == ["p-api-0", "p-batch"]
        assert select("tier") == ["p-web-0", "p-web-1"]
        assert select("!app") == ["p-batch"]
        assert select("app=web,tier=frontend") == ["p-web-0", "p-web-1"]
        assert select("app=web,!tier") == []
        assert select("app=nope") == []

    def test_keyset_pagination_has_no_gaps_or_duplicates(self, obsyk_storage: Storage) -> None:
        cluster = self.new_cluster(obsyk_storage)
        resources: list[IncomingResource] = []
        for index in range(23):
            namespace = ("default", "payments", "jobs")[index % 3]
            resources.append(pod(f"uid-{index:02d}", f"app-{index % 7}", namespace=namespace))
        snapshot(
            obsyk_storage,
            cluster.id,
            at(0),
            {"Pod": resources, "Node": [node("n-1", "a-node"), node("n-2", "z-node")]},
        )

        seen: list[ResourceRow] = []
        after = None
        for _ in range(30):  # a backend that ignores `after` must fail, not loop forever
            page = obsyk_storage.query_resources(
                ResourceQuery(cluster_ids=(cluster.id,), after=after, limit=4)
            )
            assert len(page) <= 4
            if not page:
                break
            seen.extend(page)
            after = sort_key(page[-1])
        else:
            raise AssertionError("pagination never reached an empty page")
        everything = obsyk_storage.query_resources(
            ResourceQuery(cluster_ids=(cluster.id,), limit=1000)
        )
        assert len(everything) == 25
        assert [sort_key(row) for row in seen] == [sort_key(row) for row in everything]
        assert len({row.uid for row in seen}) == 25

    def test_pagination_combines_with_filters(self, obsyk_storage: Storage) -> None:
        prod, _ = self._fleet(obsyk_storage)
        first = obsyk_storage.query_resources(
            ResourceQuery(cluster_ids=(prod,), kind="Pod", limit=2)
        )
        assert _uids(first) == ["p-web-0", "p-web-1"]
        rest = obsyk_storage.query_resources(
            ResourceQuery(cluster_ids=(prod,), kind="Pod", after=sort_key(first[-1]), limit=2)
        )
        assert _uids(rest) == ["p-batch", "p-api-0"]

    def test_get_resource(self, obsyk_storage: Storage) -> None:
        prod, dev = self._fleet(obsyk_storage)
        row = obsyk_storage.get_resource(prod, "d-api")
        assert row is not None and (row.kind, row.namespace, row.name) == (
            "Deployment",
            "payments",
            "api",
        )
        assert obsyk_storage.get_resource(prod, "no-such-uid") is None
        assert obsyk_storage.get_resource(dev, "d-api") is None, "uids are per cluster"

    def test_count_resources_counts_live_ones(self, obsyk_storage: Storage) -> None:
        prod, dev = self._fleet(obsyk_storage)
        assert obsyk_storage.count_resources([prod, dev]) == {
            (prod, "Pod", "default"): 2,
            (prod, "Pod", "payments"): 1,
            (prod, "Pod", "jobs"): 1,
            (prod, "Deployment", "default"): 1,
            (prod, "Deployment", "payments"): 1,
            (prod, "Node", None): 2,
            (dev, "Pod", "default"): 1,
        }
        assert obsyk_storage.count_resources([dev]) == {(dev, "Pod", "default"): 1}
        assert obsyk_storage.count_resources([]) == {}

    def test_iter_records_yields_live_resources_of_the_kinds(self, obsyk_storage: Storage) -> None:
        prod, dev = self._fleet(obsyk_storage)
        rows = list(obsyk_storage.iter_records([prod, dev], ["Pod", "Deployment"]))
        assert sorted(row.uid for row in rows) == [
            "d-api",
            "d-web",
            "dev-web",
            "p-api-0",
            "p-batch",
            "p-web-0",
            "p-web-1",
        ]
        images = {row.record["containers"][0]["image"] for row in rows if row.kind == "Pod"}
        assert images == {"nginx:1.25"}
        assert list(obsyk_storage.iter_records([dev], ["Node"])) == []

    def test_iter_record_fields_cuts_records_down_to_the_fields_they_have(
        self, obsyk_storage: Storage
    ) -> None:
        prod, dev = self._fleet(obsyk_storage)
        whole = {row.uid: row for row in obsyk_storage.iter_records([prod, dev], ["Pod"])}
        cut = list(obsyk_storage.iter_record_fields([prod, dev], ["Pod"], ["containers", "nope"]))
        assert [row.uid for row in cut] == list(whole)  # same rows, same order
        for row in cut:
            assert row.record == {"containers": whole[row.uid].record["containers"]}
            assert dataclasses.replace(row, record=whole[row.uid].record) == whole[row.uid]
        assert list(obsyk_storage.iter_record_fields([dev], ["Node"], ["containers"])) == []
        assert list(obsyk_storage.iter_record_fields([], ["Pod"], ["containers"])) == []


_PROD_PODS_AFTER = [
    ("p-web-0", "web-0", "default", {"app": "web", "tier": "frontend"}),
    ("p-web-1", "web-1", "default", {"app": "web", "tier": "frontend"}),
    ("p-api-0", "api-0", "payments", {"app": "api"}),
    ("p-batch", "nightly-batch", "jobs", None),
]
