"""Kinds an agent sent that no installed plugin declares: skipped, and said so.

A rolling upgrade may put an operator that knows a plugin kind before a
platform that does not (CONTRACT.md, "plugin kinds").  The rest of the body
is stored; the skipped kinds go into the answer (``ignored_kinds``), a
warning in the log and the ``obsyk_agent_ignored_kinds_total`` counter, so a
missing platform plugin is never silent.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

log = logging.getLogger(__name__)

#: Labelled by endpoint only: kind names come from the request, and a label
#: per name would let a client grow the metric without bound.
IGNORED_KINDS = Counter(
    "obsyk_agent_ignored_kinds",
    "Snapshot arrays and event kinds skipped because no installed plugin declares them",
    ["endpoint"],
)


def report_ignored(ignored: set[str], *, endpoint: str, cluster_id: str) -> dict[str, list[str]]:
    """Log and count ``ignored``; the answer's ``ignored_kinds`` entry (empty when none)."""
    if not ignored:
        return {}
    names = sorted(ignored)
    log.warning(
        "agent %s for cluster %s: skipped %s: no installed plugin declares %s",
        endpoint,
        cluster_id,
        ", ".join(names),
        "it" if len(names) == 1 else "them",
    )
    IGNORED_KINDS.labels(endpoint=endpoint).inc(len(names))
    return {"ignored_kinds": names}
