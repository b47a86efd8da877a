"""The attention rules (:mod:`obsyk_core.attention`) as one PostgreSQL statement.

The server evaluates every rule on the stored JSONB records (compiled JSON
paths, no unnesting per row), builds the details only for the rows that need
attention and sends only those, instead of the app reading every Pod, Node,
workload and Event of the fleet.  Times in records are compared only when they
are RFC 3339 with a zone, as the Python rules do.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String

from obsyk_core.attention import KINDS, AttentionItem, AttentionRules
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
_READY = _count("r.record->'ready_replicas'")
_DESIRED = _count("r.record->'replicas'")
_DS_READY = _count("r.record->'number_ready'")
_DS_DESIRED = _count("r.record->'desired_number_scheduled'")
_TROUBLE = (
    '? (@.reason == "CrashLoopBackOff" || @.reason == "ImagePullBackOff"'
    ' || @.reason == "ErrImagePull")'
)
#: The first container (then init container) waiting for a reason the rules name.
_TROUBLED = (
    f"COALESCE(jsonb_path_query_first(r.record, '$.containers[*] {_TROUBLE}'),"
    f" jsonb_path_query_first(r.record, '$.init_containers[*] {_TROUBLE}'))"
)
#: The rule that applies, from cheap per-row tests (compiled JSON paths, no
#: unnesting); the details are built only for the rows that need attention.
_REASON = f"""CASE
  WHEN r.kind = 'Pod' THEN COALESCE(
    CASE WHEN jsonb_typeof({_TROUBLED}->'reason') = 'string' THEN {_TROUBLED}->>'reason' END,
    CASE
      WHEN r.record->>'phase' = 'Failed' THEN 'Failed'
      WHEN r.record->>'phase' = 'Pending'
           AND {_time("r.record->>'k8s_created_at'")} < :pending_before THEN 'Pending'
      WHEN r.record->>'phase' = 'Running'
           AND jsonb_path_exists(r.record, '$.containers[*] ? (@.ready == false)')
           THEN 'NotReady'
    END)
  WHEN r.kind = 'Node' THEN
    CASE WHEN r.record->>'status' IS DISTINCT FROM 'Ready' THEN 'NotReady' END
  WHEN r.kind IN ('Deployment', 'StatefulSet') THEN
    CASE WHEN {_READY} < {_DESIRED} THEN 'BelowDesired' END
  WHEN r.kind = 'DaemonSet' THEN
    CASE WHEN {_DS_READY} < {_DS_DESIRED} THEN 'BelowDesired' END
  WHEN r.kind = 'Event' THEN
    CASE WHEN r.record->>'type' = 'Warning'
         AND {_time("r.record->>'last_timestamp'")} >= :warnings_since THEN 'Warning' END
END"""
_STATEMENT = text(
    f"""
SELECT r.cluster_id, r.uid, r.kind, r.namespace, r.name, r.reason,
  CASE
    WHEN r.reason IN ('CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull')
      THEN 'container ' || coalesce({_TROUBLED}->>'name', '')
    WHEN r.reason = 'Failed' THEN 'the pod failed'
    WHEN r.reason = 'Pending' THEN 'pending since ' || (r.record->>'k8s_created_at')
    WHEN r.kind = 'Pod' THEN (
      SELECT count(*) FILTER (WHERE jsonb_typeof(m.value) = 'object'
                              AND m.value->'ready' IS DISTINCT FROM 'false'::jsonb)
             || ' of ' || count(*) FILTER (WHERE jsonb_typeof(m.value) = 'object')
             || ' containers ready'
      FROM jsonb_array_elements({_CONTAINERS}) AS m(value))
    WHEN r.kind = 'Node'
      THEN 'node status ' || coalesce(nullif(r.record->>'status', ''), 'unknown')
    WHEN r.kind IN ('Deployment', 'StatefulSet')
      THEN {_READY} || ' of ' || {_DESIRED} || ' ready'
    WHEN r.kind = 'DaemonSet' THEN {_DS_READY} || ' of ' || {_DS_DESIRED} || ' ready'
    WHEN r.kind = 'Event'
      THEN coalesce(r.record->>'reason', '') || ': ' || coalesce(r.record->>'message', '')
  END AS detail
FROM (
  SELECT r.cluster_id, r.uid, r.kind, r.namespace, r.name, r.record, {_REASON} AS reason
  FROM resources r
  WHERE r.cluster_id = ANY(:cluster_ids) AND r.kind = ANY(:kinds) AND r.deleted_at IS NULL
) r
WHERE r.reason IS NOT NULL
ORDER BY r.kind, r.namespace, r.name, r.cluster_id, r.uid
LIMIT :limit
"""
).bindparams(
    bindparam("cluster_ids", type_=ARRAY(String)),
    bindparam("kinds", type_=ARRAY(String)),
)


def attention_items(
    connection: Connection, cluster_ids: Collection[str], rules: AttentionRules, limit: int
) -> list[AttentionItem]:
    params: dict[str, Any] = {
        "cluster_ids": list(cluster_ids),
        "kinds": list(KINDS),
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
