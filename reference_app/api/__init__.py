"""The platform's HTTP API: agent ingestion endpoints and the user REST API.

One :class:`flask_smorest.Api` per app documents every blueprint in OpenAPI
(``/api/openapi.json``, browsable at ``/api/docs``).  Each area lives in its
own folder: ``routes.py`` (the blueprint) and ``schemas.py`` (marshmallow).
"""

from __future__ import annotations

from flask import Flask, Response, current_app
from flask_smorest import Api
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from obsyk_core.cache import CacheError
from obsyk_core.storage import InvalidValueError, StorageError
from reference_app.api.error_schema import ErrorSchema
from reference_app.errors import error_response, http_error_response

#: Seconds an agent (or a user) should wait before retrying after a transient failure.
UNAVAILABLE_RETRY_AFTER_SECONDS = 5


class ObsykApi(Api):  # type: ignore[misc]  # flask-smorest ships no type hints
    """flask-smorest's Api, answering errors in the one Obsyk shape.

    flask-smorest handles every ``HTTPException`` with
    :meth:`handle_http_exception`, its documented hook for a custom error
    payload; this one answers as the rest of the app does
    (:func:`reference_app.errors.http_error_response`), webargs' 422s included.
    """

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_error_response(error)


def register_api(app: Flask) -> Api:
    """Create the app's one Api and register every API blueprint on it."""
    from reference_app.api.account.routes import blp as account_blp
    from reference_app.api.agent.routes import blp as agent_blp
    from reference_app.api.attention.routes import blp as attention_blp
    from reference_app.api.audit.routes import blp as audit_blp
    from reference_app.api.clusters.routes import blp as clusters_blp
    from reference_app.api.kinds.routes import blp as kinds_blp
    from reference_app.api.members.routes import blp as members_blp
    from reference_app.api.resources.routes import blp as resources_blp
    from reference_app.api.summary.routes import blp as summary_blp
    from reference_app.api.tokens.routes import blp as tokens_blp

    api = ObsykApi(app)
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "Access or API token"}
    )
    api.spec.components.security_scheme(
        "session",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": "obsyk_session",
            "description": "Browser session (sign in at /auth/login); unsafe methods also "
            "need the X-CSRF-Token header (the obsyk_csrf cookie's value)",
        },
    )
    people = (account_blp, members_blp, tokens_blp, audit_blp)
    inventory = (agent_blp, clusters_blp, resources_blp, summary_blp, kinds_blp, attention_blp)
    for blueprint in (*inventory, *people):
        api.register_blueprint(blueprint)
    for unavailable in _UNAVAILABLE:
        app.register_error_handler(unavailable, _unavailable)
    app.register_error_handler(InvalidValueError, _invalid_value)
    app.extensions["obsyk_api"] = api
    return api


#: Transient failures of a backing service, each with its error code and message.
_UNAVAILABLE: dict[type[Exception], tuple[str, str]] = {
    StorageError: (
        "storage_unavailable",
        "The inventory store is temporarily unavailable; retry later.",
    ),
    CacheError: (
        "cache_unavailable",
        "The platform's cache is temporarily unavailable; retry later.",
    ),
    # The cache turns its own Redis failures into CacheError; these are the other
    # users' of Redis (the job queue, the rate limits).
    RedisConnectionError: (
        "redis_unavailable",
        "The platform's Redis is temporarily unavailable; retry later.",
    ),
    RedisTimeoutError: (
        "redis_unavailable",
        "The platform's Redis is temporarily unavailable; retry later.",
    ),
}


def _unavailable(error: Exception) -> Response:
    """A backing service failed transiently: 503 so clients retry (upstream retries only 5xx).

    The one place a database, cache or queue outage becomes an answer, on
    every route (the token endpoint's replay check included: a grant is
    refused, never issued without it).
    """
    code, message = next(answer for kind, answer in _UNAVAILABLE.items() if isinstance(error, kind))
    current_app.logger.warning("%s: %s", code, error)
    return error_response(
        503, message, code=code, headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)}
    )


def _invalid_value(error: InvalidValueError) -> Response:
    """A value the store cannot hold: the request's fault, so 422 (a 5xx would be retried)."""
    return error_response(
        422, f"A value in the request cannot be stored: {error}", code="invalid_value"
    )
