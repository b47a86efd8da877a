"""The platform's HTTP API: agent ingestion endpoints and the user REST API.

One :class:`flask_smorest.Api` per app documents every blueprint in OpenAPI
(``/api/openapi.json``, browsable at ``/api/docs``).  Each area lives in its
own folder: ``routes.py`` (the blueprint) and ``schemas.py`` (marshmallow).
"""

from __future__ import annotations

from flask import Flask, Response, current_app
from flask_smorest import Api

from obsyk_core.storage import InvalidValueError, StorageError
from reference_app.api.error_schema import ErrorSchema
from reference_app.errors import error_response

#: Seconds an agent (or a user) should wait before retrying after a storage failure.
STORAGE_RETRY_AFTER_SECONDS = 5


class ObsykApi(Api):  # type: ignore[misc]  # flask-smorest ships no type hints
    """flask-smorest's Api, minus its own error handler.

    flask-smorest registers a handler for every ``HTTPException`` that answers
    in its own shape; the app's handlers (``reference_app.errors``) already
    answer every error, webargs' 422s included, in the one Obsyk shape, so the
    app's handler must stay in charge.
    """

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        return None


def register_api(app: Flask) -> Api:
    """Create the app's one Api and register every API blueprint on it."""
    from reference_app.api.agent.routes import blp as agent_blp
    from reference_app.api.attention.routes import blp as attention_blp
    from reference_app.api.clusters.routes import blp as clusters_blp
    from reference_app.api.kinds.routes import blp as kinds_blp
    from reference_app.api.resources.routes import blp as resources_blp
    from reference_app.api.summary.routes import blp as summary_blp

    api = ObsykApi(app)
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "Access or API token"}
    )
    for blueprint in (
        agent_blp,
        clusters_blp,
        resources_blp,
        summary_blp,
        kinds_blp,
        attention_blp,
    ):
        api.register_blueprint(blueprint)
    app.register_error_handler(StorageError, _storage_unavailable)
    app.register_error_handler(InvalidValueError, _invalid_value)
    app.extensions["obsyk_api"] = api
    return api


def _storage_unavailable(error: StorageError) -> Response:
    """A transient backend failure: 503 so the upstream operator retries (it retries only 5xx)."""
    current_app.logger.warning("storage unavailable: %s", error)
    return error_response(
        503,
        "The inventory store is temporarily unavailable; retry later.",
        code="storage_unavailable",
        headers={"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)},
    )


def _invalid_value(error: InvalidValueError) -> Response:
    """A value the store cannot hold: the request's fault, so 422 (a 5xx would be retried)."""
    return error_response(
        422, f"A value in the request cannot be stored: {error}", code="invalid_value"
    )
