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


def setting(default: Any, doc: str, *, shown: str | None = None) -> Any:
    """A setting's default and its documentation (``shown``: the default as the docs print it).

    ``python -m reference_app.config_reference`` writes docs/reference/config.md
    from these; a test fails when a setting has no ``doc``.
    """
    return field(default=default, metadata={"doc": doc, "shown": shown})


@dataclass(slots=True)
class Settings:
    database_url: str = setting(
        "",
        "Where the inventory lives. `sqlite:///path`, `postgresql://…` or "
        "`postgresql+psycopg://…` (both psycopg 3), or `memory://` (lost on exit). "
        "The URL scheme picks the storage plugin. PostgreSQL connections give up "
        "connecting after 10 s, fail after 30 s of unacknowledged data and probe a "
        "quiet server every 10 s after 30 s (closed after 3 unanswered probes); libpq "
        "parameters in the URL change that (`?connect_timeout=5&keepalives_idle=10`, "
        "also `keepalives_interval`, `keepalives_count`, `tcp_user_timeout` in ms).",
        shown="sqlite:///<instance>/obsyk.sqlite3",
    )
    redis_url: str = setting(
        "",
        "`redis://…` for the cache (assertion replay cache, one-time claims of change "
        "notifications and staleness warnings) and RQ job queues. Empty runs jobs "
        "in-process and keeps the cache in memory. A command or connection attempt "
        "that Redis does not answer fails after 5 s (a 503 on a request); URL "
        "parameters change that (`?socket_timeout=2&socket_connect_timeout=2`).",
    )
    public_urls: tuple[str, ...] = setting(
        (),
        "The platform's base URL(s) as operators are configured with them; "
        "comma-separated. These are the accepted audiences of operator JWT assertions. "
        "Trailing slashes are ignored. When unset, `obsyk serve` uses the address it "
        "listens on.",
        shown="http://127.0.0.1:8000,http://localhost:8000",
    )
    secret_key: str = setting(
        "",
        "Signs sessions and tokens. When unset, a random key is generated once and kept "
        "in `<instance>/secret_key` (mode 0600). Set it explicitly when several "
        "processes serve the same platform.",
        shown="generated",
    )
    max_snapshot_bytes: int = setting(512 * MiB, "Largest snapshot body accepted.")
    max_event_bytes: int = setting(4 * MiB, "Largest event (or event batch) body accepted.")
    history_days: int = setting(
        30, "How long resource history is kept before the pruning job removes it."
    )
    async_snapshot_bytes: int = setting(
        8 * MiB,
        "Snapshot bodies above this are staged durably and reconciled by a background job.",
    )
    access_token_seconds: int = setting(
        3600, "Lifetime of the access tokens the platform issues to operators."
    )
    disconnected_after_seconds: int = setting(
        15 * 60, "A cluster not heard from for longer is shown `disconnected`."
    )
    queue_name: str = setting("obsyk", "RQ queue name, so several platforms can share one Redis.")
    periodic_jobs: bool = setting(
        True,
        "Run the periodic jobs (recovery of pending work, pruning) on a thread of the "
        "app process. Only meaningful in the embedded default; with Redis, "
        "`obsyk scheduler` (or `obsyk worker --with-scheduler`) does it.",
    )
    recovery_interval_seconds: int = setting(
        300, "Seconds between two runs of the job that finds and re-runs pending work."
    )
    auto_migrate: bool = setting(
        True,
        "Upgrade the database schema at start-up. Turn it off when a deploy job runs "
        "`obsyk db upgrade`.",
    )
    staging_expiry_seconds: int = setting(
        24 * 3600,
        "Staged chunks of a snapshot that never completed are dropped after this long.",
    )
    access_log: bool = setting(
        True, "Log one JSON line per HTTP request (method, route, status, duration, request id)."
    )
    log_format: str = setting(
        "json",
        "`json`: one JSON object per log line (for log collectors); `console`: "
        "readable lines for a terminal. Applies to `obsyk serve`, `worker` and `scheduler`.",
    )
    log_level: str = setting("INFO", "Lowest level logged: `DEBUG`, `INFO`, `WARNING`, `ERROR`.")
    readiness_timeout_seconds: float = setting(
        2.0,
        "`/readyz` answers 503 when PostgreSQL or Redis does not answer within this long.",
    )
    secret_keys: str = setting(
        "",
        "Fernet keys, comma-separated, that encrypt values at rest (sign-in sessions' "
        "refresh tokens...): the first encrypts, every one decrypts, so a key is rotated by "
        "putting a new one first and dropping the old one once re-encrypted. Make one with "
        "`cryptography.fernet.Fernet.generate_key()`. When unset, one key is derived "
        "from the secret key.",
        shown="derived from the secret key",
    )
    session_idle_minutes: int = setting(
        720, "A signed-in browser session ends after this many minutes without a request."
    )
    session_max_hours: int = setting(
        168, "A signed-in browser session ends this many hours after sign-in in any case."
    )
    signup: str = setting(
        "invite",
        "Who may sign in without being a member yet: `invite` (only invited people, or "
        "members of a linked WorkOS organization; anyone else is told to ask an admin) or "
        "`open` (a person with no organization gets a new one, as its owner).",
    )
    dev_sign_in: bool = setting(
        False,
        "The local sign-in form for development (an existing member's email, no password). "
        "Served only when WorkOS is not configured and the request comes from a loopback "
        "address; `obsyk serve` on a loopback address turns it on.",
    )
    rate_limit_auth: str = setting(
        "30/minute",
        "Requests per client address, and per identity, to `/auth/*` and `/oauth/token`, "
        "in Flask-Limiter's notation; more get `429` with `Retry-After`. Counted in Redis "
        "when `OBSYK_REDIS_URL` is set, in memory otherwise.",
    )
    proxy_hops: int = setting(
        0,
        "Reverse proxies in front of the platform that set `X-Forwarded-For` and "
        "`X-Forwarded-Proto` (ingress, Cloudflare Tunnel): the client address of rate limits "
        "and the audit log is then taken from that header, trusting this many hops. 0 uses "
        "the connection's address. Never more than there really are: a client could "
        "otherwise choose its own address.",
    )
    workos_api_key: str = setting(
        "", "WorkOS API key: with the client id, turns WorkOS AuthKit sign-in on."
    )
    workos_client_id: str = setting("", "WorkOS client id (`client_...`).")
    workos_base_url: str = setting(
        "",
        "The WorkOS API's base URL; empty uses the SDK's default. For a WorkOS-compatible "
        "test server.",
    )
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
    "access_log": "OBSYK_ACCESS_LOG",
    "log_format": "OBSYK_LOG_FORMAT",
    "log_level": "OBSYK_LOG_LEVEL",
    "readiness_timeout_seconds": "OBSYK_READINESS_TIMEOUT_SECONDS",
    "secret_keys": "OBSYK_SECRET_KEYS",
    "session_idle_minutes": "OBSYK_SESSION_IDLE_MINUTES",
    "session_max_hours": "OBSYK_SESSION_MAX_HOURS",
    "signup": "OBSYK_SIGNUP",
    "dev_sign_in": "OBSYK_DEV_SIGN_IN",
    "rate_limit_auth": "OBSYK_RATE_LIMIT_AUTH",
    "proxy_hops": "OBSYK_PROXY_HOPS",
    "workos_api_key": "OBSYK_WORKOS_API_KEY",
    "workos_client_id": "OBSYK_WORKOS_CLIENT_ID",
    "workos_base_url": "OBSYK_WORKOS_BASE_URL",
}

#: Audiences accepted when ``OBSYK_PUBLIC_URL`` is unset: ``obsyk serve``'s default address.
DEFAULT_PUBLIC_URLS = ("http://127.0.0.1:8000", "http://localhost:8000")
SIGNUP_MODES = ("invite", "open")
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
    if settings.signup not in SIGNUP_MODES:
        raise ValueError(f"OBSYK_SIGNUP must be one of {SIGNUP_MODES}, got {settings.signup!r}")
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
    if name in {f.name for f in fields(Settings) if f.type in ("float", float)}:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{_ENV.get(name, name)} must be a number, got {raw!r}") from None
    return raw


def env_names() -> dict[str, str]:
    """Each setting's environment variable, by its name in :class:`Settings`."""
    return {name: env for name, env in _ENV.items()}


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
