"""The attention rules (:mod:`obsyk_core.attention`) as one PostgreSQL statement.

The server evaluates every rule on the stored JSONB records and sends only the
resources that need attention, instead of the app reading every Pod, Node,
workload and Event of the fleet.  Times in records are compared only when they
are RFC 3339 with a zone, as the Python rules do.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String

from obsyk_core.attention import CONTAINER_REASONS, KINDS, AttentionItem, AttentionRules
from obsyk_plugins.sql_storage.rows import namespace_out

_ZONED_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


def json_array(path: str) -> str:
    """The JSONB value at ``path`` when it is an array, else an empty array."""
    return f"CASE WHEN jsonb_typeof({path}) = 'array' THEN {path} ELSE '[]'::jsonb END"


def _count(path: str) -> str:
    return (
        f"CASE WHEN jsonb_typeof({path}) = 'number' AND ({path})::text ~ '^-?[0-9]+$' "
        f"THEN ({path})::text::bigint ELSE 0 END"
    )


def _time(path: str) -> str:
    return f"CASE WHEN {path} ~ '{_ZONED_TIME}' THEN ({path})::timestamptz END"


_CONTAINERS = json_array("r.record->'containers'")
_INIT_CONTAINERS = json_array("r.record->'init_containers'")
_CREATED = _time("r.record->>'k8s_created_at'")
_LAST_SEEN = _time("r.record->>'last_timestamp'")
_READY = _count("r.record->'ready_replicas'")
_DESIRED = _count("r.record->'replicas'")
_DS_READY = _count("r.record->'number_ready'")
_DS_DESIRED = _count("r.record->'desired_number_scheduled'")
_STATEMENT = text(
    f"""
SELECT r.cluster_id, r.uid, r.kind, r.namespace, r.name, j.reason, j.detail
FROM resources r
CROSS JOIN LATERAL (
  SELECT reason, detail FROM (
    SELECT c.value->>'reason' AS reason,
           'container ' || coalesce(c.value->>'name', '') AS detail, c.n AS o
    FROM jsonb_array_elements(CASE WHEN r.kind = 'Pod'
           THEN {_CONTAINERS} || {_INIT_CONTAINERS}
           ELSE '[]'::jsonb END) WITH ORDINALITY AS c(value, n)
    WHERE jsonb_typeof(c.value) = 'object'
      AND jsonb_typeof(c.value->'reason') = 'string'
      AND c.value->>'reason' = ANY(:container_reasons)
    UNION ALL
    SELECT v.reason, v.detail, 9223372036854775807 FROM (
      SELECT CASE
        WHEN r.kind = 'Pod' AND r.record->>'phase' = 'Failed' THEN 'Failed'
        WHEN r.kind = 'Pod' AND r.record->>'phase' = 'Pending'
             AND {_CREATED} < :pending_before THEN 'Pending'
        WHEN r.kind = 'Pod' AND r.record->>'phase' = 'Running' AND p.not_ready > 0
             THEN 'NotReady'
        WHEN r.kind = 'Node' AND r.record->>'status' IS DISTINCT FROM 'Ready' THEN 'NotReady'
        WHEN r.kind IN ('Deployment', 'StatefulSet')
             AND {_READY} < {_DESIRED}
             THEN 'BelowDesired'
        WHEN r.kind = 'DaemonSet'
             AND {_DS_READY}
                 < {_DS_DESIRED}
             THEN 'BelowDesired'
        WHEN r.kind = 'Event' AND r.record->>'type' = 'Warning'
             AND {_LAST_SEEN} >= :warnings_since THEN 'Warning'
      END AS reason,
      CASE
        WHEN r.kind = 'Pod' AND r.record->>'phase' = 'Failed' THEN 'the pod failed'
        WHEN r.kind = 'Pod' AND r.record->>'phase' = 'Pending'
             THEN 'pending since ' || (r.record->>'k8s_created_at')
        WHEN r.kind = 'Pod'
             THEN (p.total - p.not_ready) || ' of ' || p.total || ' containers ready'
        WHEN r.kind = 'Node'
             THEN 'node status ' || coalesce(nullif(r.record->>'status', ''), 'unknown')
        WHEN r.kind IN ('Deployment', 'StatefulSet')
             THEN {_READY} || ' of '
                  || {_DESIRED} || ' ready'
        WHEN r.kind = 'DaemonSet'
             THEN {_DS_READY} || ' of '
                  || {_DS_DESIRED} || ' ready'
        WHEN r.kind = 'Event'
             THEN coalesce(r.record->>'reason', '') || ': ' || coalesce(r.record->>'message', '')
      END AS detail
      FROM (
        SELECT count(*) FILTER (WHERE jsonb_typeof(m.value) = 'object') AS total,
               count(*) FILTER (WHERE m.value->'ready' = 'false'::jsonb) AS not_ready
        FROM jsonb_array_elements(CASE WHEN r.kind = 'Pod' THEN {_CONTAINERS}
                                  ELSE '[]'::jsonb END) AS m(value)
      ) p
    ) v
    WHERE v.reason IS NOT NULL
  ) candidates
  ORDER BY o
  LIMIT 1
) j
WHERE r.cluster_id = ANY(:cluster_ids) AND r.kind = ANY(:kinds) AND r.deleted_at IS NULL
ORDER BY r.kind, r.namespace, r.name, r.cluster_id, r.uid
LIMIT :limit
"""
).bindparams(
    bindparam("cluster_ids", type_=ARRAY(String)),
    bindparam("kinds", type_=ARRAY(String)),
    bindparam("container_reasons", type_=ARRAY(String)),
)


def attention_items(
    connection: Connection, cluster_ids: Collection[str], rules: AttentionRules, limit: int
) -> list[AttentionItem]:
    params: dict[str, Any] = {
        "cluster_ids": list(cluster_ids),
        "kinds": list(KINDS),
        "container_reasons": list(CONTAINER_REASONS),
        "pending_before": rules.pending_before,
        "warnings_since": rules.warnings_since,
        "limit": limit,
    }
    return [
        AttentionItem(
            row.cluster_id,
            row.uid,
            row.kind,
            namespace_out(row.namespace),
            row.name,
            row.reason,
            row.detail,
        )
        for row in connection.execute(_STATEMENT, params)
    ]
