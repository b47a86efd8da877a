"""Clusters: list, register, inspect, delete; operator credentials: rotate, revoke.

Reading needs READ_INVENTORY (any role); changing clusters or credentials
MANAGE_CLUSTERS (admin, owner): see :mod:`reference_app.auth.policy`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NoReturn

from flask.views import MethodView

from obsyk_core.storage import ConflictError
from reference_app.api.arguments import ApiBlueprint
from reference_app.api.clusters.schemas import (
    ClusterCreateSchema,
    ClusterListArgsSchema,
    ClusterPageSchema,
    ClusterSchema,
    CredentialCreateSchema,
    CredentialListSchema,
    RegistrationSchema,
)
from reference_app.api.clusters.views import cluster_views
from reference_app.api.cursors import encode_cursor
from reference_app.api.error_schema import ErrorSchema
from reference_app.api.scoping import cluster_of_current_org
from reference_app.auth import audit
from reference_app.auth.credentials import (
    InvalidPublicKey,
    Registration,
    register_cluster,
    rotate_credential,
)
from reference_app.auth.guards import Permission, current_user, requires
from reference_app.errors import abort_json
from reference_app.state import get_state

blp = ApiBlueprint(
    "clusters",
    __name__,
    url_prefix="/api/v1/clusters",
    description="Registered clusters and their operator credentials.",
)

_ADMIN = requires(Permission.MANAGE_CLUSTERS)
_VIEWER = requires(Permission.READ_INVENTORY)


def _documented(func: Any) -> Any:
    func = blp.alt_response(401, schema=ErrorSchema, description="Missing or invalid token")(func)
    func = blp.alt_response(403, schema=ErrorSchema, description="Role too weak")(func)
    func = blp.alt_response(404, schema=ErrorSchema, description="No such cluster")(func)
    return blp.doc(security=[{"bearer": []}])(func)


def _one_view(cluster: Any) -> dict[str, Any]:
    state = get_state()
    return cluster_views(
        state.storage,
        [cluster],
        disconnected_after_seconds=state.settings.disconnected_after_seconds,
        cache=state.cache,
    )[0]


def _registration_view(registration: Registration) -> dict[str, Any]:
    return {
        "cluster_id": registration.cluster.id,
        "client_id": registration.client_id,
        "private_key": registration.private_key_pem,
        "cluster": _one_view(registration.cluster),
    }


def _forget_token_statuses(client_ids: Iterable[str]) -> None:
    """Make revocations bite at once in this process (others re-read within a minute)."""
    access_tokens = get_state().access_tokens
    for client_id in client_ids:
        access_tokens.forget(client_id)


def _bad_public_key(error: InvalidPublicKey) -> NoReturn:
    abort_json(422, str(error), code="invalid_public_key", errors={"public_key": [str(error)]})


@blp.route("")
class Clusters(MethodView):
    @_VIEWER
    @blp.arguments(ClusterListArgsSchema, location="query")
    @blp.response(200, ClusterPageSchema)
    @_documented
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List your organization's clusters, by name."""
        state = get_state()
        limit: int = args["limit"]
        cursor = args.get("cursor")
        clusters = state.storage.list_clusters(
            current_user().org_id, after=cursor[0] if cursor else None, limit=limit + 1
        )
        page = clusters[:limit]
        return {
            "items": cluster_views(
                state.storage,
                page,
                disconnected_after_seconds=state.settings.disconnected_after_seconds,
                cache=state.cache,
            ),
            "next_cursor": encode_cursor([page[-1].id]) if len(clusters) > limit else None,
        }

    @_ADMIN
    @blp.arguments(ClusterCreateSchema)
    @blp.response(201, RegistrationSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Name already taken in the org")
    @_documented
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Register a cluster and its first operator credential."""
        storage = get_state().storage
        try:
            registration = register_cluster(
                storage, current_user().org_id, data["name"], data.get("public_key")
            )
        except InvalidPublicKey as error:
            _bad_public_key(error)
        except ConflictError:
            abort_json(
                409,
                f"Your organization already has a cluster named {data['name']!r}.",
                code="conflict",
            )
        audit.record(
            "cluster.registered",
            target=("cluster", registration.cluster.id),
            details={"name": registration.cluster.name, "client_id": registration.client_id},
        )
        return _registration_view(registration)


@blp.route("/<cluster_id>")
class ClusterById(MethodView):
    @_VIEWER
    @blp.response(200, ClusterSchema)
    @_documented
    def get(self, cluster_id: str) -> dict[str, Any]:
        """One cluster with its status and resource counts."""
        return _one_view(cluster_of_current_org(get_state().storage, cluster_id))

    @_ADMIN
    @blp.response(204)
    @_documented
    def delete(self, cluster_id: str) -> None:
        """Delete a cluster with its credentials, inventory and history.

        Its operator tokens are refused at once by the API process answering,
        within a minute by the others (as for a revoked credential).
        """
        state = get_state()
        cluster = cluster_of_current_org(state.storage, cluster_id)
        # Read before the delete: afterwards the credentials are gone with the cluster.
        credentials = state.storage.list_credentials(cluster.id)
        state.storage.delete_cluster(cluster.org_id, cluster.id)
        state.forget_cluster(cluster.id, [credential.client_id for credential in credentials])
        audit.record(
            "cluster.deleted", target=("cluster", cluster.id), details={"name": cluster.name}
        )


@blp.route("/<cluster_id>/credentials")
class ClusterCredentials(MethodView):
    @_ADMIN
    @blp.response(200, CredentialListSchema)
    @_documented
    def get(self, cluster_id: str) -> dict[str, Any]:
        """The cluster's operator credentials (public data only)."""
        storage = get_state().storage
        cluster = cluster_of_current_org(storage, cluster_id)
        return {"items": storage.list_credentials(cluster.id)}

    @_ADMIN
    @blp.arguments(CredentialCreateSchema)
    @blp.response(201, RegistrationSchema)
    @_documented
    def post(self, data: dict[str, Any], cluster_id: str) -> dict[str, Any]:
        """Rotate: add a credential (revoking the others unless `revoke_existing` is false)."""
        storage = get_state().storage
        cluster = cluster_of_current_org(storage, cluster_id)
        try:
            registration = rotate_credential(
                storage,
                cluster,
                data.get("public_key"),
                revoke_existing=data["revoke_existing"],
            )
        except InvalidPublicKey as error:
            _bad_public_key(error)
        if data["revoke_existing"]:
            _forget_token_statuses(
                credential.client_id for credential in storage.list_credentials(cluster.id)
            )
        audit.record(
            "credential.rotated",
            target=("cluster", cluster.id),
            details={
                "client_id": registration.client_id,
                "revoke_existing": data["revoke_existing"],
            },
        )
        return _registration_view(registration)


@blp.route("/<cluster_id>/credentials/<client_id>")
class ClusterCredential(MethodView):
    @_ADMIN
    @blp.response(204)
    @_documented
    def delete(self, cluster_id: str, client_id: str) -> None:
        """Revoke a credential: the API process answering refuses its tokens at once.

        The platform's other API processes refuse them within a minute.
        """
        storage = get_state().storage
        cluster = cluster_of_current_org(storage, cluster_id)
        credential = storage.get_credential(client_id)
        if credential is None or credential.cluster_id != cluster.id:
            abort_json(404, f"No credential {client_id!r} on this cluster.", code="not_found")
        if credential.revoked_at is None:
            storage.revoke_credential(client_id, datetime.now(UTC))
            audit.record("credential.revoked", target=("credential", client_id))
        _forget_token_statuses([client_id])
