"""The audit log: who did what to what, recorded by the code that did it.

Every action name the platform writes is in :data:`ACTIONS` (the API documents
them and refuses to filter by any other).  :func:`record` takes the actor from
the request (the signed-in person, or the API token's holder) unless told.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context, request

from obsyk_core.people import AuditEntry
from reference_app.state import get_state

ACTIONS = (
    "auth.sign_in",
    "auth.sign_out",
    "auth.sign_in_refused",
    "token.created",
    "token.revoked",
    "cluster.registered",
    "cluster.deleted",
    "credential.rotated",
    "credential.revoked",
    "member.invited",
    "member.joined",
    "member.role_changed",
    "member.removed",
    "invitation.revoked",
    "org.updated",
)


def record(
    action: str,
    *,
    target: tuple[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
    org_id: str | None = None,
    actor_id: str | None = None,
) -> None:
    """Append one entry; ``org_id`` and ``actor_id`` default to the request's caller."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    storage = get_state().storage
    caller = g.get("user") if has_request_context() else None
    org_id = org_id or (caller.org_id if caller else None)
    if org_id is None:
        raise ValueError("an audit entry needs an org")
    actor_id = actor_id or (caller.user_id if caller else None)
    actor_type = "system"
    if actor_id is not None:
        actor_type = "token" if caller is not None and caller.token_id else "user"
    user = storage.get_user(actor_id) if actor_id else None
    storage.append_audit(
        AuditEntry(
            id=uuid.uuid4().hex,
            org_id=org_id,
            at=datetime.now(UTC),
            actor_type=actor_type,
            actor_id=actor_id,
            actor_email=user.email if user else None,
            action=action,
            target_type=target[0] if target else None,
            target_id=target[1] if target else None,
            details=dict(details or {}),
            ip=request.remote_addr if has_request_context() else None,
        )
    )
