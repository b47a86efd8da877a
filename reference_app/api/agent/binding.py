"""Binding an operator credential's cluster to the ``cluster_uid`` its bodies carry.

A registered cluster is bound to its kube-system Namespace uid by the first
agent request that reaches the platform; from then on a body naming another
uid is refused (403), whichever endpoint it reaches: a credential copied into
another cluster must not be able to mix two clusters' inventories.

A binding never changes once made, so each process remembers the pairs it has
seen bound (``AppState.cluster_bindings``) and the hot endpoints (events,
heartbeats) skip the database for them.  The only way a remembered pair goes
stale is the cluster's deletion, which the deleting process forgets at once
(``AppState.forget_cluster``); in the others its credentials' access tokens
stop verifying within the revocation window, for which the pairs are kept at
most, and meanwhile ingestion itself refuses the unknown cluster.
"""

from __future__ import annotations

from typing import NoReturn

from obsyk_core.storage import Storage
from reference_app.auth.guards import AgentPrincipal
from reference_app.errors import abort_json
from reference_app.state import KnownPairs


def ensure_cluster_bound(
    storage: Storage,
    agent: AgentPrincipal,
    cluster_uid: str,
    remembered: KnownPairs | None = None,
) -> None:
    """Bind on first contact; 403 when the credential's cluster is bound to another uid.

    With ``remembered``, a pair already seen bound is accepted without a query.
    """
    if remembered is not None and (agent.cluster_id, cluster_uid) in remembered:
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
            remembered.put((agent.cluster_id, cluster_uid), True)
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
