"""Binding an operator credential's cluster to the ``cluster_uid`` its bodies carry.

A registered cluster is bound to its kube-system Namespace uid by the first
agent request that reaches the platform; from then on a body naming another
uid is refused (403), whichever endpoint it reaches: a credential copied into
another cluster must not be able to mix two clusters' inventories.
"""

from __future__ import annotations

from obsyk_core.storage import Storage
from reference_app.auth.guards import AgentPrincipal
from reference_app.errors import abort_json


def ensure_cluster_bound(storage: Storage, agent: AgentPrincipal, cluster_uid: str) -> None:
    """Bind on first contact; 403 when the credential's cluster is bound to another uid."""
    cluster = storage.get_cluster(agent.org_id, agent.cluster_id)
    if cluster is None:
        abort_json(
            401,
            "The cluster this credential was registered for no longer exists.",
            code="unknown_cluster",
        )
    if cluster.cluster_uid == cluster_uid:
        return
    # Unbound (first contact) or a mismatch: the storage decides atomically, so
    # two first requests racing cannot bind the cluster to two different uids.
    if cluster.cluster_uid is None and storage.bind_cluster_uid(cluster.id, cluster_uid):
        return
    abort_json(
        403,
        "This credential's cluster is bound to a different cluster_uid; "
        "register the other cluster separately.",
        code="cluster_uid_mismatch",
    )
