"""Per-app runtime state, kept under ``app.extensions["obsyk"]`` (never in module globals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from obsyk_core.cache import Cache
from obsyk_core.plugins import Plugins
from obsyk_core.storage import Storage
from reference_app.config import Settings

if TYPE_CHECKING:
    from reference_app.jobs.queue import JobQueue


@dataclass(slots=True)
class AppState:
    settings: Settings
    plugins: Plugins
    storage: Storage
    cache: Cache
    jobs: JobQueue
    #: Signing keys for access tokens and other app-level secrets, set by the auth module.
    extra: dict[str, Any]


def get_state(app: Flask | None = None) -> AppState:
    state: AppState = (app or current_app).extensions["obsyk"]
    return state
