"""Images in use (:mod:`obsyk_core.images`) aggregated by PostgreSQL in one statement.

The server unnests each live Pod's containers and init containers, counts the
distinct pods per image (one window pass numbers each image's placements) and
sends back only the top images with their first placements: a fleet's Pod
records never leave the database.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String

from obsyk_core.images import ImagePlacement, ImageUse
from obsyk_plugins.sql_storage.attention import json_array
from obsyk_plugins.sql_storage.rows import namespace_out

_STATEMENT = text(
    f"""
WITH uses AS (
  SELECT DISTINCT r.cluster_id, r.namespace, r.name, r.uid, c.value->>'image' AS image
  FROM resources r
  CROSS JOIN LATERAL jsonb_array_elements(
    {json_array("r.record->'containers'")} || {json_array("r.record->'init_containers'")}
  ) AS c(value)
  WHERE r.cluster_id = ANY(:cluster_ids) AND r.kind = 'Pod' AND r.deleted_at IS NULL
    AND jsonb_typeof(c.value) = 'object' AND jsonb_typeof(c.value->'image') = 'string'
    AND c.value->>'image' <> ''
    AND (CAST(:image_contains AS text) IS NULL
         OR strpos(c.value->>'image', CAST(:image_contains AS text)) > 0)
),
numbered AS (
  SELECT u.*, count(*) OVER (PARTITION BY u.image) AS pods,
         row_number() OVER (
           PARTITION BY u.image ORDER BY u.namespace, u.name, u.cluster_id, u.uid
         ) AS n
  FROM uses u
),
ranked AS (
  SELECT image, pods FROM numbered WHERE n = 1
  ORDER BY pods DESC, image COLLATE "C" LIMIT :images_limit
)
SELECT r.image, r.pods, w.cluster_id, w.namespace, w.name, w.uid
FROM ranked r JOIN numbered w ON w.image = r.image AND w.n <= :where_limit
ORDER BY r.pods DESC, r.image COLLATE "C", w.n
"""
).bindparams(bindparam("cluster_ids", type_=ARRAY(String)))


def image_usage(
    connection: Connection,
    cluster_ids: Collection[str],
    *,
    images_limit: int,
    where_limit: int,
    image_contains: str | None,
) -> tuple[list[ImageUse], bool]:
    params: dict[str, Any] = {
        "cluster_ids": list(cluster_ids),
        "image_contains": image_contains or None,
        # One more than asked tells whether images were left out.
        "images_limit": images_limit + 1,
        "where_limit": where_limit,
    }
    uses: dict[str, ImageUse] = {}
    for row in connection.execute(_STATEMENT, params):
        use = uses.get(row.image)
        if use is None:
            use = uses[row.image] = ImageUse(row.image, row.pods)
        if row.uid is not None:
            use.where.append(
                ImagePlacement(row.cluster_id, namespace_out(row.namespace), row.name, row.uid)
            )
    ranked = list(uses.values())
    return ranked[:images_limit], len(ranked) > images_limit
