"""Which kinds the cluster serves and lets us read, and which the platform accepts.

A kind plugin for a CRD the cluster does not have (or an RBAC role that does
not cover a kind) must not stop the other kinds from flowing.  At start and
every discovery interval the operator asks the API server's discovery
documents (``/api/v1``, ``/apis/<group>/<version>``) which resources it
serves, and probes each served kind with a one-item LIST, which is what RBAC
answers 403 to.  Each kind is then in one of three states:

* ``watched``: listed and watched; carried in snapshots and events;
* ``not_served``: the cluster has no such API (CRD absent or removed), so it
  has none of them: carried in snapshots as an empty array, which tombstones
  whatever the platform still holds of it (the normal snapshot rule);
* ``forbidden``: RBAC keeps us from listing it; what exists is unknown, so it
  is not carried at all and the platform's copy is left as it was.

:class:`KindStates` holds the answer for the other threads (shipping,
heartbeat, health, metrics), with what the platform says it accepts (the
heartbeat answer's ``kinds``, CONTRACT.md "plugin kinds"): we send only those.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import structlog

from obsyk_core.kinds import ResourceKind
from obsyk_operator.kube_api import JsonObject, KubeApiError, ListPage

log = structlog.get_logger(__name__)

WATCHED = "watched"
NOT_SERVED = "not_served"
FORBIDDEN = "forbidden"
STATES = (WATCHED, NOT_SERVED, FORBIDDEN)


class DiscoveryApi(Protocol):
    def get(self, path: str) -> JsonObject: ...

    def list_page(
        self, path: str, *, limit: int, continue_token: str | None = None
    ) -> ListPage: ...


def discover(
    api: DiscoveryApi, kinds: Iterable[ResourceKind], paths: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Each kind's state; ``paths`` are the collections each kind is watched through.

    Errors other than 404 and 403 (the API server unreachable, a 500) are
    raised: the caller keeps the states it had rather than guess.
    """
    served: dict[str, frozenset[str]] = {}
    states: dict[str, str] = {}
    for kind in kinds:
        group_version = f"/apis/{kind.group}/{kind.version}" if kind.group else "/api/v1"
        if group_version not in served:
            served[group_version] = _served_plurals(api, group_version)
        if kind.plural not in served[group_version]:
            states[kind.kind] = NOT_SERVED
            continue
        states[kind.kind] = _probe(api, paths.get(kind.kind, ()))
    return states


def _served_plurals(api: DiscoveryApi, group_version: str) -> frozenset[str]:
    try:
        resources = api.get(group_version).get("resources") or ()
    except KubeApiError as exc:
        if exc.status == 404:  # no such group/version: its CRDs are absent
            return frozenset()
        raise
    return frozenset(str(resource.get("name", "")) for resource in resources)


def _probe(api: DiscoveryApi, paths: Sequence[str]) -> str:
    """``watched`` when every collection answers a one-item LIST, else why not."""
    for path in paths:
        try:
            api.list_page(path, limit=1)
        except KubeApiError as exc:
            if exc.status == 403:
                return FORBIDDEN
            if exc.status == 404:  # removed between discovery and the probe
                return NOT_SERVED
            raise
    return WATCHED


class KindStates:
    """The kinds' states and the platform's accepted kinds, shared by the operator's threads."""

    def __init__(self, kinds: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._states = dict.fromkeys(kinds, WATCHED)
        self._accepted: frozenset[str] | None = None

    def update(self, states: Mapping[str, str]) -> dict[str, tuple[str, str]]:
        """Take new states; return the kinds that changed, ``kind -> (before, after)``.

        Each change is logged once, here: a kind skipped stays quiet until its
        state changes again.
        """
        with self._lock:
            changed = {
                kind: (self._states[kind], state)
                for kind, state in states.items()
                if kind in self._states and self._states[kind] != state
            }
            self._states.update({kind: after for kind, (_, after) in changed.items()})
        for kind, (before, after) in sorted(changed.items()):
            if after == WATCHED:
                log.info("kind is served again: watching it", kind=kind, was=before)
            else:
                log.warning(_SKIPPED[after], kind=kind, state=after)
        return changed

    def states(self) -> dict[str, str]:
        with self._lock:
            return dict(self._states)

    def skipped(self) -> dict[str, str]:
        """The kinds not watched, with why."""
        return {kind: state for kind, state in self.states().items() if state != WATCHED}

    def accepted_by_platform(self, kinds: Iterable[str] | None) -> frozenset[str]:
        """Learn the platform's accepted kinds (``None``: it did not say; keep what we knew).

        Returns the kinds it newly accepts (a plugin installed on the platform
        since), which the caller sends a snapshot of.
        """
        if kinds is None:
            return frozenset()
        accepted = frozenset(kinds)
        with self._lock:
            before, self._accepted = self._accepted, accepted
            ours = frozenset(self._states)
        if accepted == before:
            return frozenset()
        refused = sorted(ours - accepted)
        if refused:
            log.warning("the platform does not accept these kinds: not sending them", kinds=refused)
        return frozenset() if before is None else (accepted - before) & ours

    def _sendable(self, kind: str) -> bool:
        return self._accepted is None or kind in self._accepted

    def carried(self) -> frozenset[str]:
        """Kinds a snapshot carries (and heartbeats count): watched or not served, and accepted."""
        with self._lock:
            return frozenset(
                kind
                for kind, state in self._states.items()
                if state != FORBIDDEN and self._sendable(kind)
            )

    def streamed(self) -> frozenset[str]:
        """Kinds whose events are sent: watched and accepted."""
        with self._lock:
            return frozenset(
                kind
                for kind, state in self._states.items()
                if state == WATCHED and self._sendable(kind)
            )


_SKIPPED = {
    NOT_SERVED: "kind skipped: the cluster does not serve its API (CRD not installed?)",
    FORBIDDEN: "kind skipped: RBAC forbids listing it (add list/watch to the ClusterRole)",
}
