"""Telling ``obsyk_resource_changed`` plugins about committed changes, off the request path.

The hook contract says implementations run in a background job and never
block ingestion, so the request only enqueues; and only when some plugin
implements the hook, so the common case costs nothing.
"""

from __future__ import annotations

import logging

from obsyk_core.ingest import IngestResult, ResourceChange
from reference_app.state import AppState, get_state

log = logging.getLogger(__name__)


def announce_changes(state: AppState, result: IngestResult) -> None:
    """Queue the notification of ``result``'s changes (they are already committed)."""
    if not result.changes or not state.plugins.pm.hook.obsyk_resource_changed.get_hookimpls():
        return
    try:
        state.jobs.enqueue(notify_resource_changes, list(result.changes))
    except Exception:
        # The data is committed: failing the request now would only make the
        # operator resend what is stored.  Losing a notification is the lesser harm.
        log.exception("could not queue %d change notifications", len(result.changes))


def notify_resource_changes(changes: list[ResourceChange]) -> None:
    """Job: call every ``obsyk_resource_changed`` implementation for each change, in order."""
    plugins = get_state().plugins
    for change in changes:
        plugins.notify_resource_changed(change)
