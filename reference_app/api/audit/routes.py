"""``GET /api/v1/audit``: the organization's audit log, newest first (admins and owners)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask.views import MethodView

from obsyk_core.people import AuditEntry, AuditQuery
from reference_app.api.arguments import ApiBlueprint
from reference_app.api.audit.schemas import AuditArgsSchema, AuditPageSchema
from reference_app.api.cursors import encode_cursor
from reference_app.api.error_schema import ErrorSchema
from reference_app.auth.guards import Permission, current_user, requires
from reference_app.state import get_state

blp = ApiBlueprint(
    "audit", __name__, url_prefix="/api/v1/audit", description="Who did what, when, from where."
)


def _view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "actor": {"type": entry.actor_type, "id": entry.actor_id, "email": entry.actor_email},
        "action": entry.action,
        "target": {"type": entry.target_type, "id": entry.target_id},
        "details": entry.details,
        "ip": entry.ip,
    }


@blp.route("")
class Audit(MethodView):
    @requires(Permission.READ_AUDIT)
    @blp.arguments(AuditArgsSchema, location="query")
    @blp.response(200, AuditPageSchema)
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    @blp.alt_response(403, schema=ErrorSchema, description="Admins and owners only")
    @blp.doc(security=[{"bearer": []}, {"session": []}])
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Audit entries of your organization, newest first, filtered and paged."""
        storage = get_state().storage
        actor = args.get("actor")
        if actor and "@" in actor:
            user = storage.find_user(email=actor)
            actor = user.id if user else "-"  # an unknown email matches nothing
        cursor = args.get("cursor")
        limit: int = args["limit"]
        entries = storage.list_audit(
            AuditQuery(
                org_id=current_user().org_id,
                actor_id=actor,
                action=args.get("action"),
                since=args.get("since"),
                until=args.get("until"),
                before=(datetime.fromisoformat(cursor[0]), cursor[1]) if cursor else None,
                limit=limit + 1,
            )
        )
        page = entries[:limit]
        next_cursor = None
        if len(entries) > limit:
            next_cursor = encode_cursor([page[-1].at.isoformat(), page[-1].id])
        return {"items": [_view(entry) for entry in page], "next_cursor": next_cursor}
