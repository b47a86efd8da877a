"""The resource kinds this platform understands: what a client needs to list and show them."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from obsyk_core.kinds import CATEGORIES, ResourceKind
from reference_app.api.arguments import ApiBlueprint
from reference_app.api.error_schema import ErrorSchema
from reference_app.api.kinds.schemas import KindListSchema
from reference_app.auth.guards import Permission, requires
from reference_app.state import get_state

blp = ApiBlueprint(
    "kinds",
    __name__,
    url_prefix="/api/v1/kinds",
    description="Installed resource kinds and how to display them.",
)


def _sort_key(kind: ResourceKind) -> tuple[int, str]:
    # The dashboard's order: category by category, then by name.
    return CATEGORIES.index(kind.display.category), kind.kind


@blp.route("")
class Kinds(MethodView):
    @requires(Permission.READ_INVENTORY)
    @blp.response(200, KindListSchema)
    @blp.alt_response(401, schema=ErrorSchema, description="Missing or invalid token")
    @blp.doc(security=[{"bearer": []}])
    def get(self) -> dict[str, Any]:
        """Every installed kind (core and plugin), by display category then name."""
        kinds = sorted(get_state().plugins.kinds, key=_sort_key)
        return {"items": kinds}
