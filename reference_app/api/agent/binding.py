"""Binding an operator credential's cluster to the ``cluster_uid`` its bodies carry.

A registered cluster is bound to its kube-system Namespace uid by the first
agent request that reaches the platform; from then on a body naming another
uid is refused (403), whichever endpoint it reaches: a credential copied into
another cluster must not be able to mix two clusters' inventories.

A binding never changes once made, so each process remembers the pairs it has
seen bound (:class:`RememberedPairs`) and the hot endpoints (events,
heartbeats) skip the database for them.  The only way a remembered pair goes
stale is the cluster's deletion; then its credentials go too, the access token
stops verifying within the revocation window (and at once in the process that
deleted it), and meanwhile ingestion itself refuses the unknown cluster.  The
memory is kept no longer than that window anyway.
"""

from __future__ import annotations

from typing import NoReturn

from obsyk_core.storage import Storage
from reference_app.auth.access_tokens import REVOCATION_CHECK_SECONDS
from reference_app.auth.guards import AgentPrincipal
from reference_app.errors import abort_json
from reference_app.remembered import RememberedPairs
from reference_app.state import AppState

_STATE_KEY = "remembered_bindings"


def remembered_bindings(state: AppState) -> RememberedPairs:
    """This app's ``(cluster_id, cluster_uid)`` pairs seen bound (made on first use)."""
    memory: RememberedPairs | None = state.extra.get(_STATE_KEY)
    if memory is None:
        # setdefault: two threads racing here still end up sharing one memory.
        memory = state.extra.setdefault(
            _STATE_KEY, RememberedPairs(ttl_seconds=REVOCATION_CHECK_SECONDS)
        )
    return memory


def ensure_cluster_bound(
    storage: Storage,
    agent: AgentPrincipal,
    cluster_uid: str,
    remembered: RememberedPairs | None = None,
) -> None:
    """Bind on first contact; 403 when the credential's cluster is bound to another uid.

    With ``remembered``, a pair already seen bound is accepted without a query.
    """
    if remembered is not None and remembered.knows(agent.cluster_id, cluster_uid):
        return
    cluster = storage.get_cluster(agent.org_id, agent.cluster_id)
    if cluster is None:
        unknown_cluster()
    # Unbound (first contact) or a mismatch: the storage decides atomically, so
    # two first requests racing cannot bind the cluster to two different uids.
    if cluster.cluster_uid == cluster_uid or (
        cluster.cluster_uid is None and storage.bind_cluster_uid(cluster.id, cluster_uid)
    ):
        if remembered is not None:
            remembered.remember(agent.cluster_id, cluster_uid)
        return
    abort_json(
        403,
        "This credential's cluster is bound to a different cluster_uid; "
        "register the other cluster separately.",
        code="cluster_uid_mismatch",
    )


def unknown_cluster() -> NoReturn:
    """401: the credential's cluster was deleted (its token is about to stop verifying)."""
    abort_json(
        401,
        "The cluster this credential was registered for no longer exists.",
        code="unknown_cluster",
    )
