"""Clusters, their registration and their operator credentials."""

from __future__ import annotations

import marshmallow as ma

from reference_app.api.cursors import CursorField

MAX_CLUSTER_PAGE = 500


class ClusterListArgsSchema(ma.Schema):
    limit = ma.fields.Integer(
        load_default=100, validate=ma.validate.Range(min=1, max=MAX_CLUSTER_PAGE)
    )
    cursor = CursorField(
        key_length=1, metadata={"description": "`next_cursor` of the previous page"}
    )


class ClusterSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    cluster_uid = ma.fields.String(
        allow_none=True,
        metadata={"description": "kube-system Namespace uid, bound on first contact"},
    )
    status = ma.fields.String(metadata={"description": "pending, connected or disconnected"})
    created_at = ma.fields.DateTime()
    last_heartbeat_at = ma.fields.DateTime(allow_none=True)
    last_snapshot_at = ma.fields.DateTime(allow_none=True)
    last_seen_at = ma.fields.DateTime(allow_none=True)
    agent_version = ma.fields.String(allow_none=True)
    kubernetes_version = ma.fields.String(allow_none=True)
    resource_counts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "Live resources by kind"},
    )
    kinds = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        allow_none=True,
        metadata={
            "description": "What the cluster's operator last reported it watches (`watched`) "
            "and skips: `not_served` (the cluster does not serve the kind's API: CRD absent) "
            "or `forbidden` (RBAC); null when it has not reported lately"
        },
    )


class ClusterPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ClusterSchema))
    next_cursor = ma.fields.String(allow_none=True)


class ClusterCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=253))
    public_key = ma.fields.String(
        metadata={
            "description": "PEM ECDSA P-256 public key of the operator; omitted: the platform "
            "generates a key pair and returns the private key once"
        }
    )


class CredentialCreateSchema(ma.Schema):
    public_key = ma.fields.String(metadata={"description": "As for cluster registration"})
    revoke_existing = ma.fields.Boolean(
        load_default=True, metadata={"description": "Revoke the cluster's other credentials"}
    )


class RegistrationSchema(ma.Schema):
    cluster_id = ma.fields.String()
    client_id = ma.fields.String()
    private_key = ma.fields.String(
        allow_none=True,
        metadata={"description": "PKCS#8 PEM, shown only now; null when you sent a public key"},
    )
    cluster = ma.fields.Nested(ClusterSchema)


class CredentialSchema(ma.Schema):
    client_id = ma.fields.String()
    created_at = ma.fields.DateTime()
    revoked_at = ma.fields.DateTime(allow_none=True)


class CredentialListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CredentialSchema))
