"""Record fields an agent sent that the platform does not store: dropped, and said so.

The platform keeps only what each kind's schema declares and drops the
annotations the operator's filter drops (:mod:`obsyk_core.record_trim`), so a
misbehaving or foreign agent cannot put a Secret's values, container ``env``
values or ``managedFields`` into the inventory.  What was dropped is never
silent: the answer's ``dropped_fields`` (``Kind.field.path`` -> how many
values), a warning in the log and the ``obsyk_agent_dropped_fields_total`` counter.
"""

from __future__ import annotations

import logging
from collections import Counter

from prometheus_client import Counter as Metric

log = logging.getLogger(__name__)

#: Labelled by endpoint and kind (installed kinds only): field paths come from the
#: request, and a label per path would let a client grow the metric without bound.
DROPPED_FIELDS = Metric(
    "obsyk_agent_dropped_fields",
    "Record fields dropped because the kind's schema does not declare them "
    "(or the annotation filter refuses them)",
    ["endpoint", "kind"],
)
#: The answer names at most this many paths (the most frequent), whatever a body holds.
MAX_REPORTED_PATHS = 100


def report_dropped(
    dropped: Counter[str], *, endpoint: str, cluster_id: str
) -> dict[str, dict[str, int]]:
    """Log and count ``dropped``; the answer's ``dropped_fields`` entry (empty when none)."""
    if not dropped:
        return {}
    by_kind: Counter[str] = Counter()
    for path, count in dropped.items():
        by_kind[path.partition(".")[0]] += count
    for kind, count in by_kind.items():
        DROPPED_FIELDS.labels(endpoint=endpoint, kind=kind).inc(count)
    reported = dict(sorted(dropped.most_common(MAX_REPORTED_PATHS)))
    log.warning(
        "agent %s for cluster %s: dropped %d value(s) of fields the platform does not store: %s",
        endpoint,
        cluster_id,
        sum(dropped.values()),
        ", ".join(reported),
    )
    return {"dropped_fields": reported}
