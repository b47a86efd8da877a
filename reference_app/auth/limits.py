"""Abuse limits on the sign-in and token endpoints (Flask-Limiter).

``/auth/*`` and ``/oauth/token`` get ``OBSYK_RATE_LIMIT_AUTH`` (default
``30/minute``) twice over: per client address and per identity (the email of
the development form, the client id of an operator's assertion), so neither
one address nor one account can hammer them.  More get ``429`` with
``Retry-After``.  The agent data endpoints are never limited: the upstream
operator drops what gets a 429 (CONTRACT §3).  Counts live in Redis when the
platform has it (shared by every API process), in memory otherwise.
"""

from __future__ import annotations

import base64
import json
from typing import cast

from flask import Blueprint, Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from obsyk_plugins.redis_cache import client_options, split_prefix
from reference_app.config import Settings

LIMITED_BLUEPRINTS = ("auth", "oauth")


def _identity() -> str:
    """Who the request says it is, before anything is verified; the address when it says nothing."""
    email = request.form.get("email")
    if email:
        return "email:" + email.strip().casefold()
    assertion = request.form.get("assertion") or request.form.get("client_assertion")
    if assertion and assertion.count(".") == 2:
        payload = assertion.split(".")[1]
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            return "client:" + str(claims.get("iss"))[:200]
        except (ValueError, AttributeError):
            pass
    return "address:" + get_remote_address()


def init_rate_limits(app: Flask, settings: Settings) -> Limiter:
    if settings.redis_url:
        storage_uri, prefix = split_prefix(settings.redis_url)
        # The platform's timeouts: a silent Redis must fail the request, not hang it.
        options = client_options()
    else:
        storage_uri, prefix, options = "memory://", "", {}
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=storage_uri,
        storage_options=options,
        key_prefix=f"{prefix}limits",
        headers_enabled=True,
        default_limits=[],
    )
    for name in LIMITED_BLUEPRINTS:
        blueprint = cast(Blueprint, app.blueprints[name])
        limiter.limit(settings.rate_limit_auth)(blueprint)
        limiter.limit(settings.rate_limit_auth, key_func=_identity)(blueprint)
    return limiter
