"""Scoping a resource read to the caller's org, usually without a cluster lookup.

A cluster never moves between orgs, so once this process has seen that a
cluster id belongs to an org, the pair is remembered (``AppState.org_clusters``)
and later reads of that cluster skip the lookup.  The only way the fact goes
stale is the cluster's deletion: the deleting process forgets it at once
(``AppState.forget_cluster``); in another, the deletion also deleted the
cluster's resources and history, so a read that finds nothing looks the
cluster up again (:func:`confirm_cluster`) and a deleted cluster still answers
404, never an empty 200.
"""

from __future__ import annotations

from obsyk_core.storage import Storage
from reference_app.api.scoping import abort_no_cluster, cluster_of_current_org
from reference_app.auth.guards import current_user
from reference_app.state import get_state


def cluster_id_of_current_org(storage: Storage, cluster_id: str) -> str:
    """``cluster_id`` if it is (or was: :func:`confirm_cluster`) of the caller's org; else 404."""
    if not is_org_cluster(storage, current_user().org_id, cluster_id):
        abort_no_cluster(cluster_id)
    return cluster_id


def is_org_cluster(storage: Storage, org_id: str, cluster_id: str) -> bool:
    """Whether the cluster is (or was: :func:`confirm_cluster`) of the org."""
    known = get_state().org_clusters
    if (org_id, cluster_id) in known:
        return True
    if storage.get_cluster(org_id, cluster_id) is None:
        return False
    known.put((org_id, cluster_id), True)
    return True


def confirm_cluster(storage: Storage, cluster_id: str) -> None:
    """404 when the cluster is gone: call it when a read found nothing in it."""
    cluster_of_current_org(storage, cluster_id)
