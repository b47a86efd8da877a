"""Sample objects and synthetic clusters: realistic, deterministic, independent."""

from __future__ import annotations

from collections import Counter

import pytest

from obsyk_plugins.core_kinds.testing.samples import (
    SAMPLE_KINDS,
    cluster_counts,
    sample_object,
    synthetic_cluster,
)


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
def test_sample_objects_look_like_kubectl_output(kind: str) -> None:
    raw = sample_object(kind)
    assert raw["kind"] == kind
    assert raw["metadata"]["uid"] and raw["metadata"]["name"]
    if kind != "Event":
        assert raw["metadata"]["managedFields"]


def test_sample_objects_are_fresh_copies() -> None:
    first = sample_object("Pod")
    first["spec"]["containers"][0]["image"] = "changed"
    assert sample_object("Pod")["spec"]["containers"][0]["image"] != "changed"


def test_an_unknown_sample_kind_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="no sample for kind 'Certificate'; known: Namespace, Pod"):
        sample_object("Certificate")


def test_a_synthetic_cluster_has_the_requested_size_and_every_kind() -> None:
    objects = list(synthetic_cluster(1000, seed=1))
    assert len(objects) == 1000
    counts = Counter(kind for kind, _ in objects)
    assert set(counts) == set(SAMPLE_KINDS)
    assert counts == Counter(cluster_counts(1000))
    # Pods and events dominate, as in real clusters.
    assert counts.most_common(2) == [("Pod", counts["Pod"]), ("Event", counts["Event"])]
    assert counts["Pod"] > 250 and counts["Node"] < 20


def test_uids_are_unique_and_names_unique_per_kind_and_namespace() -> None:
    objects = list(synthetic_cluster(3000, seed=2))
    uids = [raw["metadata"]["uid"] for _, raw in objects]
    assert len(set(uids)) == len(uids)
    keys = [(k, r["metadata"].get("namespace"), r["metadata"]["name"]) for k, r in objects]
    assert len(set(keys)) == len(keys)


def test_the_same_seed_gives_the_same_cluster_and_another_seed_does_not() -> None:
    assert list(synthetic_cluster(300, seed=5)) == list(synthetic_cluster(300, seed=5))
    assert list(synthetic_cluster(300, seed=5)) != list(synthetic_cluster(300, seed=6))


def test_synthetic_objects_vary_and_do_not_share_state() -> None:
    pods = [raw for kind, raw in synthetic_cluster(500, seed=4) if kind == "Pod"]
    assert len({p["spec"]["containers"][0]["image"] for p in pods}) > 20
    assert len({p["metadata"]["namespace"] for p in pods}) > 3
    assert len({p["spec"]["nodeName"] for p in pods}) > 1
    pods[0]["metadata"]["labels"]["mutated"] = "yes"
    pods[0]["spec"]["volumes"].clear()
    assert "mutated" not in pods[1]["metadata"]["labels"]
    assert pods[1]["spec"]["volumes"]


def test_namespaced_objects_live_in_the_clusters_namespaces() -> None:
    objects = list(synthetic_cluster(2000, seed=8))
    namespaces = {raw["metadata"]["name"] for kind, raw in objects if kind == "Namespace"}
    used = {raw["metadata"]["namespace"] for _, raw in objects if "namespace" in raw["metadata"]}
    assert used <= namespaces


@pytest.mark.parametrize("total", [0, 1, 19, 20, 21, 997])
def test_counts_always_add_up(total: int) -> None:
    counts = cluster_counts(total)
    assert sum(counts.values()) == total
    assert len(list(synthetic_cluster(total))) == total


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="total must be >= 0"):
        list(synthetic_cluster(-1))
