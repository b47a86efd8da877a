"""Typed configuration, read from ``OBSYK_*`` environment variables.

Every setting has a default that runs the embedded platform (SQLite in the
instance folder, in-process jobs, in-memory cache) with no services at all.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

MiB = 1024 * 1024


@dataclass(slots=True)
class Settings:
    #: ``sqlite:///path``, ``postgresql://…``, ``postgresql+psycopg://…`` or ``memory://``.
    database_url: str = ""
    #: ``redis://…``; empty runs jobs in-process and keeps the cache in memory.
    redis_url: str = ""
    #: Accepted JWT audiences: the base URLs operators are configured with.
    public_urls: tuple[str, ...] = ()
    secret_key: str = ""
    max_snapshot_bytes: int = 512 * MiB
    max_event_bytes: int = 4 * MiB
    history_days: int = 30
    #: Snapshot bodies above this are staged and reconciled by a background job.
    async_snapshot_bytes: int = 8 * MiB
    access_token_seconds: int = 3600
    disconnected_after_seconds: int = 15 * 60
    #: RQ queue name (production); lets several platforms share one Redis.
    queue_name: str = "obsyk"
    #: Run the periodic jobs (recovery, pruning, silent clusters) on a thread of the app process.
    #: Only meaningful in the embedded default; with Redis, ``obsyk scheduler`` does it.
    periodic_jobs: bool = True
    #: Seconds between two runs of ``recover_pending``.
    recovery_interval_seconds: int = 300
    #: Upgrade the schema at start-up (off when a deploy job runs ``obsyk db upgrade``).
    auto_migrate: bool = True
    #: Chunks of a snapshot that never completed are dropped after this long.
    staging_expiry_seconds: int = 24 * 3600
    extra: dict[str, Any] = field(default_factory=dict)


_ENV = {
    "database_url": "OBSYK_DATABASE_URL",
    "redis_url": "OBSYK_REDIS_URL",
    "public_urls": "OBSYK_PUBLIC_URL",
    "secret_key": "OBSYK_SECRET_KEY",
    "max_snapshot_bytes": "OBSYK_MAX_SNAPSHOT_BYTES",
    "max_event_bytes": "OBSYK_MAX_EVENT_BYTES",
    "history_days": "OBSYK_HISTORY_DAYS",
    "async_snapshot_bytes": "OBSYK_ASYNC_SNAPSHOT_BYTES",
    "access_token_seconds": "OBSYK_ACCESS_TOKEN_SECONDS",
    "disconnected_after_seconds": "OBSYK_DISCONNECTED_AFTER_SECONDS",
    "queue_name": "OBSYK_QUEUE_NAME",
    "periodic_jobs": "OBSYK_PERIODIC_JOBS",
    "recovery_interval_seconds": "OBSYK_RECOVERY_INTERVAL_SECONDS",
    "staging_expiry_seconds": "OBSYK_STAGING_EXPIRY_SECONDS",
    "auto_migrate": "OBSYK_AUTO_MIGRATE",
}

#: Audiences accepted when ``OBSYK_PUBLIC_URL`` is unset: ``obsyk serve``'s default address.
DEFAULT_PUBLIC_URLS = ("http://127.0.0.1:8000", "http://localhost:8000")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def load_settings(
    overrides: dict[str, Any] | None, instance_path: Path, environ: dict[str, str] | None = None
) -> Settings:
    """Defaults < environment < ``overrides`` (the dict given to ``create_app``)."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for f in fields(Settings):
        env_name = _ENV.get(f.name)
        if env_name and environ.get(env_name):
            values[f.name] = _coerce(f.name, environ[env_name])
    for key, value in (overrides or {}).items():
        name = key.lower().removeprefix("obsyk_")
        if name in {f.name for f in fields(Settings)}:
            values[name] = _coerce(name, value) if isinstance(value, str) else value
    settings = Settings(**values)
    if not settings.database_url:
        settings.database_url = f"sqlite:///{instance_path / 'obsyk.sqlite3'}"
    if not settings.secret_key:
        settings.secret_key = _instance_secret(instance_path)
    if isinstance(settings.public_urls, str):
        settings.public_urls = _split_urls(settings.public_urls)
    if not settings.public_urls:
        settings.public_urls = DEFAULT_PUBLIC_URLS
    return settings


def _coerce(name: str, raw: str) -> Any:
    if name == "public_urls":
        return _split_urls(raw)
    if name in {f.name for f in fields(Settings) if f.type in ("bool", bool)}:
        if raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise ValueError(f"{_ENV.get(name, name)} must be true or false, got {raw!r}")
    if name in {f.name for f in fields(Settings) if f.type in ("int", int)}:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{_ENV.get(name, name)} must be an integer, got {raw!r}") from None
    return raw


def _split_urls(raw: str) -> tuple[str, ...]:
    return tuple(url.strip().rstrip("/") for url in raw.split(",") if url.strip())


def _instance_secret(instance_path: Path) -> str:
    """A secret key generated once and kept in the instance folder (mode 0600)."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
