"""Tenancy for the user API: everything a person reaches goes through their org.

A cluster of another org answers exactly like a cluster that does not exist
(404), so ids cannot be probed across orgs.
"""

from __future__ import annotations

from typing import NoReturn

from obsyk_core.storage import Cluster, Storage
from reference_app.auth.guards import current_user
from reference_app.errors import abort_json


def cluster_of_current_org(storage: Storage, cluster_id: str) -> Cluster:
    cluster = storage.get_cluster(current_user().org_id, cluster_id)
    if cluster is None:
        abort_no_cluster(cluster_id)
    return cluster


def abort_no_cluster(cluster_id: str) -> NoReturn:
    abort_json(404, f"No cluster {cluster_id!r} in your organization.", code="not_found")


def org_cluster_ids(storage: Storage, org_id: str) -> list[str]:
    return [cluster.id for cluster in storage.list_clusters(org_id)]
