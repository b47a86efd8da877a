"""The fleet summary: counts by cluster, kind and namespace, and the images in use."""

from __future__ import annotations

import marshmallow as ma


class SummaryArgsSchema(ma.Schema):
    cluster_id = ma.fields.String(metadata={"description": "Only this cluster"})
    image = ma.fields.String(
        validate=ma.validate.Length(min=1, max=500),
        metadata={"description": "Only images whose name contains this"},
    )


class ClusterCountSchema(ma.Schema):
    cluster_id = ma.fields.String()
    name = ma.fields.String()
    count = ma.fields.Integer()
    kinds = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class NamespaceCountSchema(ma.Schema):
    cluster_id = ma.fields.String()
    namespace = ma.fields.String()
    count = ma.fields.Integer()
    kinds = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class ImagePlacementSchema(ma.Schema):
    cluster_id = ma.fields.String()
    namespace = ma.fields.String(allow_none=True)
    pod = ma.fields.String()
    uid = ma.fields.String(metadata={"description": "The Pod's uid"})


class ImageSchema(ma.Schema):
    image = ma.fields.String()
    pods = ma.fields.Integer(metadata={"description": "Pods running it (all of them)"})
    where = ma.fields.List(
        ma.fields.Nested(ImagePlacementSchema),
        metadata={"description": "Where it runs; at most `where_limit` entries"},
    )
    where_truncated = ma.fields.Boolean()


class SummarySchema(ma.Schema):
    total = ma.fields.Integer(metadata={"description": "Live resources"})
    by_cluster = ma.fields.List(ma.fields.Nested(ClusterCountSchema))
    by_kind = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    by_namespace = ma.fields.List(ma.fields.Nested(NamespaceCountSchema))
    images = ma.fields.List(
        ma.fields.Nested(ImageSchema),
        metadata={"description": "Most used first; at most `images_limit` entries"},
    )
    images_truncated = ma.fields.Boolean()
    images_limit = ma.fields.Integer()
    where_limit = ma.fields.Integer()
