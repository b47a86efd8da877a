"""The application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from obsyk_core.plugins import build_plugin_manager
from reference_app.config import load_settings
from reference_app.errors import register_error_handlers
from reference_app.json_provider import OrjsonProvider
from reference_app.state import AppState, get_state

#: Paths whose callers authenticate with a bearer token in every request, never a cookie.
BEARER_PATH_PREFIXES = ("/api/", "/oauth/")


class BearerPathsSessionInterface(SecureCookieSessionInterface):
    """Flask's cookie sessions, except on bearer-token paths, which get the null session.

    Opening a cookie session builds a signing serializer on every request (about
    a twentieth of a listing's Python) for endpoints that never read or write
    it; the dashboard and any later cookie-based pages keep real sessions.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(BEARER_PATH_PREFIXES):
            return None  # Flask then hands the view its (unsaved) null session
        return super().open_session(app, request)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the platform.  ``config`` overrides ``OBSYK_*`` settings (tests pass a dict).

    Besides the settings' names (``DATABASE_URL``, ``REDIS_URL``...), ``config``
    may carry ``INSTANCE_PATH`` (default ``OBSYK_INSTANCE_PATH``, else Flask's; where
    the SQLite file and generated secret key live), ``TESTING`` and ``PLUGINS``
    (a ready :class:`~obsyk_core.plugins.Plugins`).
    """
    config = dict(config or {})
    instance_path = config.get("INSTANCE_PATH") or os.environ.get("OBSYK_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
    )
    app.json = OrjsonProvider(app)
    instance = Path(app.instance_path)
    settings = load_settings(config, instance)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # Agent bodies are limited per endpoint; this is the hard ceiling.
        MAX_CONTENT_LENGTH=max(settings.max_snapshot_bytes, settings.max_event_bytes),
        API_TITLE="Obsyk",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.config["TESTING"] = bool(config.get("TESTING", False))
    app.session_interface = BearerPathsSessionInterface()
    plugins = config.get("PLUGINS") or build_plugin_manager()
    storage = plugins.storage.open(settings.database_url)
    if settings.auto_migrate:
        storage.migrate()
    cache = plugins.caches.open(settings.redis_url or "memory://")

    from reference_app.auth.access_tokens import AccessTokens
    from reference_app.auth.oauth import init_oauth
    from reference_app.jobs.queue import make_job_queue

    state = AppState(
        settings=settings,
        plugins=plugins,
        storage=storage,
        cache=cache,
        jobs=make_job_queue(settings, app),
        access_tokens=AccessTokens(
            storage,
            settings.secret_key,
            lifetime_seconds=settings.access_token_seconds,
            cache=cache,
        ),
    )
    app.extensions["obsyk"] = state
    app.config["OBSYK_DEMO_MEMBERS"] = tuple(config.get("DEMO_MEMBERS", ()))
    register_error_handlers(app)
    from reference_app.observability import init_observability

    init_observability(app)
    from reference_app.request_checks import init_request_checks

    init_request_checks(app)
    init_oauth(app)

    from reference_app.auth.setup import init_auth

    init_auth(app, state)
    from reference_app.api import register_api

    register_api(app)
    from reference_app.dashboard import blp as dashboard_blp

    app.register_blueprint(dashboard_blp)
    from reference_app.api_browser import blp as api_browser_blp

    app.register_blueprint(api_browser_blp)
    from reference_app.auth.limits import init_rate_limits
    from reference_app.html_headers import init_html_headers

    init_rate_limits(app, settings)
    init_html_headers(app, https=settings.public_urls[0].startswith("https://"))
    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client's address (rate limits, audit log) as the trusted proxies saw it.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    from reference_app.jobs.periodic import start_embedded_periodic_jobs

    start_embedded_periodic_jobs(app)
    return app


def close_app(app: Flask) -> None:
    """Stop the app's background threads and release its connections (tests, shutdown)."""
    state = get_state(app)
    stop, state.stop_periodic = state.stop_periodic, None
    if stop is not None:
        stop()
    from reference_app.observability import close_observability

    close_observability(app)
    state.jobs.close()
    state.cache.close()
    state.storage.close()
