"""Reading the inventory: per cluster, across the fleet, one resource and its history."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from obsyk_core.storage import ResourceRow, Storage
from reference_app.api.arguments import ApiBlueprint
from reference_app.api.error_schema import ErrorSchema
from reference_app.api.resources.listing import history_items, resource_page
from reference_app.api.resources.org_clusters import (
    cluster_id_of_current_org,
    confirm_cluster,
    is_org_cluster,
)
from reference_app.api.resources.related import RelatedFinder
from reference_app.api.resources.schemas import (
    FleetFilterArgsSchema,
    HistorySchema,
    RelatedSchema,
    ResourceFilterArgsSchema,
    ResourcePageSchema,
    ResourceSchema,
)
from reference_app.api.scoping import org_cluster_ids
from reference_app.auth.guards import Permission, current_user, requires
from reference_app.errors import abort_json
from reference_app.state import get_state

blp = ApiBlueprint(
    "resources",
    __name__,
    url_prefix="/api/v1",
    description="The inventory: filtered, paginated listings, single resources, history.",
)


# Instances, not classes: given a class, webargs builds a new schema on every request.
_CLUSTER_FILTER_ARGS = ResourceFilterArgsSchema()
_FLEET_FILTER_ARGS = FleetFilterArgsSchema()


def _documented(func: Any) -> Any:
    func = blp.alt_response(401, schema=ErrorSchema, description="Missing or invalid token")(func)
    func = blp.alt_response(404, schema=ErrorSchema, description="No such cluster/resource")(func)
    return blp.doc(security=[{"bearer": []}])(func)


def _cluster_page(storage: Storage, cluster_id: str, args: dict[str, Any]) -> dict[str, Any]:
    """One page of one cluster of the caller's org; 404 unless of their org.

    The org check is remembered (:mod:`org_clusters`), so a listing costs the
    guard's token check and the read; an empty page is the one moment to tell
    "none match" from "no such cluster" (or deleted meanwhile).
    """
    mine = is_org_cluster(storage, current_user().org_id, cluster_id)
    page = resource_page(storage.query_resources, [cluster_id] if mine else [], args)
    if not page["items"]:
        confirm_cluster(storage, cluster_id)
    return page


@blp.route("/clusters/<cluster_id>/resources")
@blp.route("/clusters/<cluster_id>/agents", endpoint="ClusterAgents")
class ClusterResources(MethodView):
    decorators = [requires(Permission.READ_INVENTORY)]

    @blp.arguments(_CLUSTER_FILTER_ARGS, location="query")
    @blp.response(200, ResourcePageSchema)
    @_documented
    def get(self, args: dict[str, Any], cluster_id: str) -> dict[str, Any]:
        """List a cluster's resources (`/agents` is an alias)."""
        return _cluster_page(get_state().storage, cluster_id, args)


@blp.route("/resources")
class FleetResources(MethodView):
    decorators = [requires(Permission.READ_INVENTORY)]

    @blp.arguments(_FLEET_FILTER_ARGS, location="query")
    @blp.response(200, ResourcePageSchema)
    @_documented
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search resources across every cluster of your organization."""
        storage = get_state().storage
        if args.get("cluster_id"):
            return _cluster_page(storage, args["cluster_id"], args)
        clusters = org_cluster_ids(storage, current_user().org_id)
        return resource_page(storage.query_resources, clusters, args)


def _resource_or_404(storage: Storage, cluster_id: str, uid: str) -> ResourceRow:
    row = storage.get_resource(cluster_id_of_current_org(storage, cluster_id), uid)
    if row is None:
        confirm_cluster(storage, cluster_id)
        abort_json(404, f"No resource {uid!r} in this cluster.", code="not_found")
    return row


@blp.route("/clusters/<cluster_id>/resources/<uid>")
class ClusterResource(MethodView):
    decorators = [requires(Permission.READ_INVENTORY)]

    @blp.response(200, ResourceSchema)
    @_documented
    def get(self, cluster_id: str, uid: str) -> Any:
        """One resource (deleted ones too, with `deleted_at`)."""
        return _resource_or_404(get_state().storage, cluster_id, uid)


@blp.route("/clusters/<cluster_id>/resources/<uid>/history")
class ClusterResourceHistory(MethodView):
    decorators = [requires(Permission.READ_INVENTORY)]

    @blp.response(200, HistorySchema)
    @_documented
    def get(self, cluster_id: str, uid: str) -> dict[str, Any]:
        """Every kept version of a resource, oldest first, each with its diff."""
        storage = get_state().storage
        versions = storage.resource_history(cluster_id_of_current_org(storage, cluster_id), uid)
        if not versions and storage.get_resource(cluster_id, uid) is None:
            confirm_cluster(storage, cluster_id)
            abort_json(404, f"No resource {uid!r} in this cluster.", code="not_found")
        return {"cluster_id": cluster_id, "uid": uid, "items": history_items(versions)}


@blp.route("/clusters/<cluster_id>/resources/<uid>/related")
class ClusterResourceRelated(MethodView):
    decorators = [requires(Permission.READ_INVENTORY)]

    @blp.response(200, RelatedSchema)
    @_documented
    def get(self, cluster_id: str, uid: str) -> dict[str, Any]:
        """The objects around a resource: owners, owned, selections, routes, uses, events.

        The rules are the kinds' declared relations; owners come from
        `owner_references` (our operator) or are derived from selectors and
        `pod-template-hash` (upstream records).
        """
        state = get_state()
        row = _resource_or_404(state.storage, cluster_id, uid)
        related = RelatedFinder(state.storage, state.plugins.kinds, cluster_id).find(row)
        return {"cluster_id": cluster_id, "uid": uid, **related}
