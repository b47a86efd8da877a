"""The fleet at a glance: resource counts and the images that run where."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from reference_app.api.arguments import ApiBlueprint
from reference_app.api.error_schema import ErrorSchema
from reference_app.api.scoping import cluster_of_current_org
from reference_app.api.summary.counts import roll_up
from reference_app.api.summary.schemas import SummaryArgsSchema, SummarySchema
from reference_app.auth.guards import Permission, current_user, requires
from reference_app.state import get_state

blp = ApiBlueprint(
    "summary", __name__, url_prefix="/api/v1/summary", description="Fleet-wide counts and images."
)

IMAGES_LIMIT = 200
WHERE_LIMIT = 50


@blp.route("")
class Summary(MethodView):
    @requires(Permission.READ_INVENTORY)
    @blp.arguments(SummaryArgsSchema, location="query")
    @blp.response(200, SummarySchema)
    @blp.alt_response(401, schema=ErrorSchema, description="Missing or invalid token")
    @blp.alt_response(404, schema=ErrorSchema, description="No such cluster")
    @blp.doc(security=[{"bearer": []}])
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Counts by cluster, kind and namespace; images in use and where they run.

        Both are aggregated by the storage (on PostgreSQL in the database);
        `image` keeps only images whose name contains it ("where does X run").
        """
        storage = get_state().storage
        if args.get("cluster_id"):
            clusters = [cluster_of_current_org(storage, args["cluster_id"])]
        else:
            clusters = storage.list_clusters(current_user().org_id)
        names = {cluster.id: cluster.name for cluster in clusters}
        rollup = roll_up(storage.count_resources(list(names)) if names else {}, list(names))
        images, images_truncated = storage.image_usage(
            list(names),
            images_limit=IMAGES_LIMIT,
            where_limit=WHERE_LIMIT,
            image_contains=args.get("image"),
        )
        by_cluster = [
            {"cluster_id": cid, "name": names[cid], "count": tally.count, "kinds": tally.kinds}
            for cid, tally in rollup.by_cluster.items()
        ]
        return {
            "total": rollup.total,
            "by_cluster": sorted(by_cluster, key=lambda c: (c["name"], c["cluster_id"])),
            "by_kind": dict(sorted(rollup.by_kind.items())),
            "by_namespace": [
                {"cluster_id": cid, "namespace": ns, "count": tally.count, "kinds": tally.kinds}
                for (cid, ns), tally in sorted(rollup.by_namespace.items())
            ],
            "images": images,
            "images_truncated": images_truncated,
            "images_limit": IMAGES_LIMIT,
            "where_limit": WHERE_LIMIT,
        }
