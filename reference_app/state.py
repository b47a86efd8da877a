"""Per-app runtime state, kept under ``app.extensions["obsyk"]`` (never in module globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

from obsyk_core.cache import Cache
from obsyk_core.plugins import Plugins
from obsyk_core.storage import Storage
from reference_app.auth.access_tokens import REVOCATION_CHECK_SECONDS, AccessTokens
from reference_app.config import Settings
from reference_app.remembered import Remembered

if TYPE_CHECKING:
    from reference_app.auth.setup import People
    from reference_app.health import ReadinessChecks
    from reference_app.jobs.queue import JobQueue

#: How long a cluster's org is remembered.  Only bounds memory: the fact itself
#: holds until the cluster is deleted, which forgets it (:meth:`AppState.forget_cluster`).
ORG_CLUSTER_SECONDS = 3600.0

#: ``(first, second)`` pairs known to belong together.
KnownPairs = Remembered[tuple[str, str], bool]


def _known_bindings() -> KnownPairs:
    # No longer than a deleted cluster's tokens keep verifying in another process.
    return Remembered(ttl_seconds=REVOCATION_CHECK_SECONDS)


def _known_org_clusters() -> KnownPairs:
    return Remembered(ttl_seconds=ORG_CLUSTER_SECONDS)


@dataclass(slots=True)
class AppState:
    settings: Settings
    plugins: Plugins
    storage: Storage
    cache: Cache
    jobs: JobQueue
    #: Issues and verifies operators' access tokens (remembering the verified ones).
    access_tokens: AccessTokens
    #: ``(cluster_id, cluster_uid)`` pairs seen bound (``api.agent.binding``).
    cluster_bindings: KnownPairs = field(default_factory=_known_bindings)
    #: ``(org_id, cluster_id)`` pairs seen to belong together (``api.resources.org_clusters``).
    org_clusters: KnownPairs = field(default_factory=_known_org_clusters)
    #: Stops the embedded periodic jobs' thread, when this process runs it.
    stop_periodic: Callable[[], None] | None = None
    #: What ``/readyz`` asks the database and Redis (``reference_app.health``).
    readiness: ReadinessChecks | None = None
    #: Sign-in: key ring, identity provider, rate limiter (``reference_app.auth.setup``).
    people: People | None = None

    def forget_cluster(self, cluster_id: str, client_ids: list[str]) -> None:
        """Drop what this process remembers of a deleted cluster and its credentials.

        Other processes forget within their memories' windows; meanwhile the
        storage itself refuses writes to (and finds no rows of) a deleted cluster.
        """
        self.cluster_bindings.forget_where(lambda pair: pair[0] == cluster_id)
        self.org_clusters.forget_where(lambda pair: pair[1] == cluster_id)
        for client_id in client_ids:
            self.access_tokens.forget(client_id)


def get_state(app: Flask | None = None) -> AppState:
    state: AppState = (app or current_app).extensions["obsyk"]
    return state
