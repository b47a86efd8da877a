"""The application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from obsyk_core.plugins import build_plugin_manager
from reference_app.config import load_settings
from reference_app.errors import register_error_handlers
from reference_app.state import AppState


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the platform.  ``config`` overrides ``OBSYK_*`` settings (tests pass a dict)."""
    app = Flask(__name__, instance_relative_config=True)
    instance = Path((config or {}).get("INSTANCE_PATH") or app.instance_path)
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
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
    )
    plugins = (config or {}).get("PLUGINS") or build_plugin_manager()
    storage = plugins.storage.open(settings.database_url)
    storage.migrate()
    cache = plugins.caches.open(settings.redis_url or "memory://")

    from reference_app.jobs.queue import make_job_queue

    app.extensions["obsyk"] = AppState(
        settings=settings,
        plugins=plugins,
        storage=storage,
        cache=cache,
        jobs=make_job_queue(settings, app),
        extra={},
    )
    register_error_handlers(app)

    from reference_app.api import register_api

    register_api(app)
    return app
