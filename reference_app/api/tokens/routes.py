"""Personal API tokens: yours (members and up); any of the org's (admins and owners)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask.views import MethodView

from reference_app.api.arguments import ApiBlueprint
from reference_app.api.error_schema import ErrorSchema
from reference_app.api.tokens.schemas import (
    IssuedTokenSchema,
    TokenCreateSchema,
    TokenListArgsSchema,
    TokenListSchema,
)
from reference_app.auth import audit
from reference_app.auth.guards import Permission, authorize, current_user, requires
from reference_app.auth.membership import create_token
from reference_app.auth.policy import allows
from reference_app.errors import abort_json
from reference_app.state import get_state

blp = ApiBlueprint(
    "tokens",
    __name__,
    url_prefix="/api/v1/tokens",
    description="Personal API tokens (the secret is shown once, at creation).",
)


def _documented(func: Any) -> Any:
    func = blp.alt_response(401, schema=ErrorSchema, description="Not signed in")(func)
    func = blp.alt_response(403, schema=ErrorSchema, description="Role too weak")(func)
    return blp.doc(security=[{"bearer": []}, {"session": []}])(func)


@blp.route("")
class Tokens(MethodView):
    @requires(Permission.MANAGE_OWN_TOKENS)
    @blp.arguments(TokenListArgsSchema, location="query")
    @blp.response(200, TokenListSchema)
    @_documented
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your unrevoked tokens, newest first (`all=true`: the whole org's, for admins)."""
        caller = current_user()
        if args["all"]:
            authorize(caller, Permission.MANAGE_MEMBERS)
        owner = None if args["all"] else caller.user_id
        return {"items": get_state().storage.list_api_tokens(caller.org_id, owner)}

    @requires(Permission.MANAGE_OWN_TOKENS)
    @blp.arguments(TokenCreateSchema)
    @blp.response(201, IssuedTokenSchema)
    @_documented
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Make a token acting as you in this org; its secret is in this answer only."""
        caller = current_user()
        issued = create_token(
            get_state().storage,
            caller.org_id,
            caller.user_id,
            data["name"],
            data.get("expires_in_days"),
        )
        record = issued.record
        audit.record("token.created", target=("token", record.id), details={"name": record.name})
        return {
            "id": record.id,
            "name": record.name,
            "token": issued.token,
            "created_at": record.created_at,
            "expires_at": record.expires_at,
        }


@blp.route("/<token_id>")
class TokenById(MethodView):
    @requires(Permission.MANAGE_OWN_TOKENS)
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="No such token of yours")
    @_documented
    def delete(self, token_id: str) -> None:
        """Revoke a token of yours (admins: any token of the org); refused from the next request."""
        caller = current_user()
        storage = get_state().storage
        token = storage.get_api_token(token_id)
        mine = token is not None and token.user_id == caller.user_id
        visible = token is not None and token.org_id == caller.org_id and token.revoked_at is None
        if (
            token is None
            or not visible
            or not (mine or allows(caller.role, Permission.MANAGE_MEMBERS))
        ):
            abort_json(404, f"No token {token_id!r} you can revoke.", code="not_found")
        storage.revoke_api_token(token_id, datetime.now(UTC))
        audit.record("token.revoked", target=("token", token_id), details={"name": token.name})
