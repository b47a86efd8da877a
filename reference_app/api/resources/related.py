"""The objects around an object: owners, owned, selections, routes, references, events.

The rules come from the kinds (:class:`obsyk_core.kinds.Relations`), never from
a table here: a CRD plugin that declares a selector or references gets the same
view.  Owners come from the record's ``owner_references`` (our operator's
extension); without them (the upstream operator) they are derived: a
controller owns the objects it selects whose name starts with its own, and a
Pod carrying ``pod-template-hash`` sits under the ReplicaSet
``<deployment>-<hash>`` that the inventory does not hold.

Every lookup is one indexed listing of one kind in one namespace, bounded by
:data:`SCAN_LIMIT`; nothing reads the whole cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from obsyk_core.kinds import KindRegistry, Reference, ResourceKind
from obsyk_core.labels import LabelRequirement
from obsyk_core.storage import ResourceQuery, ResourceRow, Storage

#: Most rows read per (kind, namespace) lookup.
SCAN_LIMIT = 1000
#: Most items answered per relation.
ITEM_LIMIT = 100
#: Deepest owner chain followed (Pod -> ReplicaSet -> Deployment is 2).
OWNER_DEPTH = 5
RELATIONS = ("owners", "owned", "selects", "selected_by", "routes", "uses", "used_by", "events")
_TEMPLATE_HASH = "pod-template-hash"


@dataclass(slots=True)
class Related:
    lists: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in RELATIONS}
    )
    seen: dict[str, set[tuple[Any, ...]]] = field(
        default_factory=lambda: {name: set() for name in RELATIONS}
    )

    def add(self, relation: str, item: dict[str, Any]) -> None:
        key = (item["uid"], item["kind"], item["name"])
        if key in self.seen[relation] or len(self.lists[relation]) >= ITEM_LIMIT:
            return
        self.seen[relation].add(key)
        self.lists[relation].append(item)


def summary(row: ResourceRow) -> dict[str, Any]:
    return {"uid": row.uid, "kind": row.kind, "name": row.name, "namespace": row.namespace}


def _absent(kind: str, name: str, namespace: str | None, uid: str | None = None) -> dict[str, Any]:
    """An object named by a record that the inventory does not hold (uid null unless known)."""
    return {"uid": uid, "kind": kind, "name": name, "namespace": namespace, "missing": True}


def _selects(selector: Any, labels: Mapping[str, str]) -> bool:
    """A non-empty ``matchLabels`` map that ``labels`` satisfy (empty selects nothing here)."""
    if not isinstance(selector, Mapping) or not selector:
        return False
    return all(labels.get(key) == value for key, value in selector.items())


class RelatedFinder:
    """Answers ``related`` for one cluster, reading through ``storage``."""

    def __init__(self, storage: Storage, kinds: KindRegistry, cluster_id: str) -> None:
        self.storage = storage
        self.kinds = kinds
        self.cluster_id = cluster_id

    def find(self, row: ResourceRow) -> dict[str, list[dict[str, Any]]]:
        related = Related()
        kind = self.kinds.get(row.kind)
        self._owners(row, related)
        if kind is not None and kind.relations is not None:
            self._selection(row, kind, related)
            self._references(row, kind, related)
        self._selected_by(row, related)
        self._referenced_by(row, related)
        self._events(row, related)
        return related.lists

    # -- lookups
    def _list(
        self,
        kind: str,
        namespace: str | None,
        *,
        name: str | None = None,
        labels: tuple[LabelRequirement, ...] = (),
    ) -> list[ResourceRow]:
        query = ResourceQuery(
            cluster_ids=(self.cluster_id,),
            kind=kind,
            namespace=namespace,
            name_prefix=name,
            labels=labels,
            limit=SCAN_LIMIT,
        )
        return self.storage.query_resources(query)

    def _named(self, kind: str, name: str, namespace: str | None) -> ResourceRow | None:
        declared = self.kinds.get(kind)
        scope = namespace if declared is None or declared.namespaced else None
        return next((r for r in self._list(kind, scope, name=name) if r.name == name), None)

    def _controllers(self) -> Iterable[ResourceKind]:
        return (k for k in self.kinds if k.relations is not None and k.relations.controller)

    # -- owners and owned
    def _owners(self, row: ResourceRow, related: Related) -> None:
        current: ResourceRow | None = row
        name, labels, namespace = row.name, row.labels, row.namespace
        for _ in range(OWNER_DEPTH):
            if current is None:
                # An owner the inventory lacks (a ReplicaSet): derive its own owner.
                owner = self._derived_owner(name, labels, namespace, skip_template_hash=True)
            else:
                owner = self._declared_owner(current) or self._derived_owner(
                    current.name, current.labels, current.namespace
                )
            if owner is None:
                return
            related.add("owners", owner if isinstance(owner, dict) else summary(owner))
            if isinstance(owner, dict):
                current, name = None, owner["name"]
            else:
                current = owner

    def _declared_owner(self, row: ResourceRow) -> ResourceRow | dict[str, Any] | None:
        references = row.record.get("owner_references")
        if isinstance(references, list) and references:
            ref = next((r for r in references if r.get("controller")), references[0])
            found = self.storage.get_resource(self.cluster_id, str(ref.get("uid") or ""))
            if found is not None and found.deleted_at is None:
                return found
            return _absent(
                str(ref.get("kind")), str(ref.get("name")), row.namespace, ref.get("uid")
            )
        for reference in self._references_of(row):
            if reference.role == "owner":
                return self._named(reference.kind, reference.name, row.namespace) or _absent(
                    reference.kind, reference.name, row.namespace
                )
        return None

    def _derived_owner(
        self,
        name: str,
        labels: Mapping[str, str],
        namespace: str | None,
        *,
        skip_template_hash: bool = False,
    ) -> ResourceRow | dict[str, Any] | None:
        """A controller selecting these labels whose name prefixes ``name`` (upstream records)."""
        if namespace is None:
            return None
        for controller in self._controllers():
            assert controller.relations is not None
            for candidate in self._list(controller.kind, namespace):
                selector = candidate.record.get(controller.relations.selector or "")
                if not (_selects(selector, labels) and name.startswith(f"{candidate.name}-")):
                    continue
                template_hash = labels.get(_TEMPLATE_HASH)
                replica_set = f"{candidate.name}-{template_hash}"
                if not skip_template_hash and template_hash and name.startswith(f"{replica_set}-"):
                    return _absent("ReplicaSet", replica_set, namespace)
                return candidate
        return None

    # -- selections
    def _selection(self, row: ResourceRow, kind: ResourceKind, related: Related) -> None:
        relations = kind.relations
        assert relations is not None
        selector = row.record.get(relations.selector or "")
        if not isinstance(selector, Mapping) or not selector or row.namespace is None:
            return
        requirements = tuple(LabelRequirement(k, "in", (v,)) for k, v in sorted(selector.items()))
        for target in relations.selects:
            for selected in self._list(target, row.namespace, labels=requirements):
                related.add("routes" if relations.routes else "selects", summary(selected))
                if relations.controller and selected.name.startswith(f"{row.name}-"):
                    related.add("owned", summary(selected))

    def _selected_by(self, row: ResourceRow, related: Related) -> None:
        if row.namespace is None or not row.labels:
            return
        for kind in self.kinds:
            relations = kind.relations
            if relations is None or row.kind not in relations.selects:
                continue
            for candidate in self._list(kind.kind, row.namespace):
                if _selects(candidate.record.get(relations.selector or ""), row.labels):
                    related.add("routes" if relations.routes else "selected_by", summary(candidate))
                    if relations.routes:
                        # What routes to the Service routes to its pods too (an Ingress).
                        self._referenced_by(candidate, related, roles=("routes",))

    # -- references by name
    def _references_of(self, row: ResourceRow) -> list[Reference]:
        kind = self.kinds.get(row.kind)
        if kind is None or kind.relations is None or kind.relations.references is None:
            return []
        return list(kind.relations.references(row.record))

    def _references(self, row: ResourceRow, kind: ResourceKind, related: Related) -> None:
        for reference in self._references_of(row):
            if reference.role == "owner":
                continue
            found = self._named(reference.kind, reference.name, row.namespace)
            item = (
                summary(found) if found else _absent(reference.kind, reference.name, row.namespace)
            )
            related.add(reference.role, item)

    def _referenced_by(
        self,
        row: ResourceRow,
        related: Related,
        roles: tuple[str, ...] = ("routes", "uses", "owner"),
    ) -> None:
        """Objects of its namespace naming it: routing to it, using it, or owning-by-name."""
        if row.namespace is None:
            return
        relation = {"routes": "routes", "uses": "used_by", "owner": "owned"}
        for kind in self.kinds:
            if kind.relations is None or row.kind not in kind.relations.referenced:
                continue
            for candidate in self._list(kind.kind, row.namespace):
                for reference in self._references_of(candidate):
                    if (reference.kind, reference.name) == (row.kind, row.name) and (
                        reference.role in roles
                    ):
                        related.add(relation[reference.role], summary(candidate))

    # -- events
    def _events(self, row: ResourceRow, related: Related) -> None:
        events = []
        for event in self._list("Event", row.namespace or "default"):
            involved = event.record.get("involved_object") or {}
            if involved.get("uid") == row.uid or (
                not involved.get("uid")
                and (involved.get("kind"), involved.get("name")) == (row.kind, row.name)
            ):
                events.append(event)
        events.sort(key=lambda e: str(e.record.get("last_timestamp") or ""), reverse=True)
        for event in events:
            item = summary(event)
            item["event"] = {
                key: event.record.get(key)
                for key in ("type", "reason", "message", "count", "last_timestamp")
            }
            related.add("events", item)
