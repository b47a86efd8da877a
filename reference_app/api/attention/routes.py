"""What needs attention: silent clusters and resources in trouble, computed by the storage."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.views import MethodView

from obsyk_core.attention import AttentionRules
from obsyk_core.freshness import cluster_status
from reference_app.api.arguments import ApiBlueprint
from reference_app.api.attention.schemas import AttentionArgsSchema, AttentionSchema
from reference_app.api.error_schema import ErrorSchema
from reference_app.api.scoping import cluster_of_current_org
from reference_app.auth.guards import Permission, current_user, requires
from reference_app.state import get_state

blp = ApiBlueprint(
    "attention",
    __name__,
    url_prefix="/api/v1/attention",
    description="What needs attention across your clusters.",
)

#: Most resources answered; the rest is reported as ``truncated``.
ATTENTION_LIMIT = 200


@blp.route("")
class Attention(MethodView):
    decorators = [requires(Permission.READ_INVENTORY)]

    @blp.arguments(AttentionArgsSchema, location="query")
    @blp.response(200, AttentionSchema)
    @blp.alt_response(401, schema=ErrorSchema, description="Missing or invalid token")
    @blp.alt_response(404, schema=ErrorSchema, description="No such cluster")
    @blp.doc(security=[{"bearer": []}])
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Disconnected clusters, and resources in trouble (evaluated in the database).

        Pods in CrashLoopBackOff, ImagePullBackOff or ErrImagePull, failed,
        Pending for more than 5 minutes or running not ready; Nodes not Ready;
        Deployments, StatefulSets and DaemonSets below their desired count;
        Warning events of the last hour.
        """
        state = get_state()
        storage = state.storage
        if args.get("cluster_id"):
            clusters = [cluster_of_current_org(storage, args["cluster_id"])]
        else:
            clusters = storage.list_clusters(current_user().org_id)
        now = datetime.now(UTC)
        threshold = timedelta(seconds=state.settings.disconnected_after_seconds)
        names = {cluster.id: cluster.name for cluster in clusters}
        found = storage.attention(list(names), AttentionRules.at(now), limit=ATTENTION_LIMIT + 1)
        return {
            "disconnected": [
                {"cluster_id": c.id, "name": c.name, "last_seen_at": c.last_seen_at}
                for c in clusters
                if cluster_status(c, now, threshold) == "disconnected"
            ],
            "items": [
                {**asdict(item), "cluster_name": names[item.cluster_id]}
                for item in found[:ATTENTION_LIMIT]
            ],
            "truncated": len(found) > ATTENTION_LIMIT,
            "limit": ATTENTION_LIMIT,
        }
