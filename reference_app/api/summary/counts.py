"""Live resource counts rolled up by cluster, by kind and by namespace."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class Tally:
    """A count with its split by kind."""

    count: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, number: int) -> None:
        self.count += number
        self.kinds[kind] = self.kinds.get(kind, 0) + number


@dataclass(slots=True)
class Rollup:
    by_cluster: dict[str, Tally]
    by_kind: dict[str, int]
    #: Namespaced kinds only, keyed by (cluster_id, namespace).
    by_namespace: dict[tuple[str, str], Tally]

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


def roll_up(counts: Mapping[tuple[str, str, str | None], int], cluster_ids: list[str]) -> Rollup:
    """Aggregate ``Storage.count_resources`` output; every listed cluster appears, even empty."""
    rollup = Rollup({cluster_id: Tally() for cluster_id in cluster_ids}, {}, {})
    for (cluster_id, kind, namespace), number in counts.items():
        rollup.by_cluster.setdefault(cluster_id, Tally()).add(kind, number)
        rollup.by_kind[kind] = rollup.by_kind.get(kind, 0) + number
        if namespace is not None:
            rollup.by_namespace.setdefault((cluster_id, namespace), Tally()).add(kind, number)
    return rollup
