"""An Obsyk plugin for cert-manager ``Certificate`` resources (cert-manager.io/v1).

A complete kind plugin in one module: the extractor (raw Kubernetes JSON ->
the record the operator sends), the marshmallow schema the platform validates
the record with, display hints for the dashboard, and the hook that registers
them.  ``docs/how-to/write-a-kind-plugin.md`` walks through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate

from obsyk_core.kinds import Column, DisplayHints, KindRegistry, RawObject, Record, ResourceKind
from obsyk_core.plugins import hookimpl


def extract_certificate(raw: RawObject) -> Record:
    """Project a Certificate to its record.

    Called by the operator for every Certificate it lists or watches, so it is
    plain dict access.  It copies no private key material: a Certificate only
    *names* the Secret holding it.
    """
    meta: Mapping[str, Any] = raw.get("metadata") or {}
    spec: Mapping[str, Any] = raw.get("spec") or {}
    status: Mapping[str, Any] = raw.get("status") or {}
    record: Record = {
        "uid": meta.get("uid", ""),
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
    }
    if meta.get("labels"):
        record["labels"] = dict(meta["labels"])
    if meta.get("creationTimestamp"):
        record["k8s_created_at"] = meta["creationTimestamp"]
    issuer = spec.get("issuerRef") or {}
    record["issuer"] = {"kind": issuer.get("kind", "Issuer"), "name": issuer.get("name", "")}
    record["secret_name"] = spec.get("secretName", "")
    if spec.get("dnsNames"):
        record["dns_names"] = list(spec["dnsNames"])
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    record["ready"] = bool(ready and ready.get("status") == "True")
    for key, field in (("notAfter", "not_after"), ("renewalTime", "renewal_time")):
        if status.get(key):
            record[field] = status[key]
    return record


class IssuerRefSchema(Schema):
    class Meta:
        unknown = INCLUDE

    kind = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class CertificateSchema(Schema):
    """Validates a Certificate record on the platform; unknown fields pass, not stored."""

    class Meta:
        unknown = INCLUDE

    uid = fields.String(required=True, validate=validate.Length(min=1))
    name = fields.String(required=True, validate=validate.Length(min=1))
    namespace = fields.String(allow_none=True)
    labels = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    k8s_created_at = fields.String(allow_none=True)
    issuer = fields.Nested(IssuerRefSchema, allow_none=True)
    secret_name = fields.String(allow_none=True)
    dns_names = fields.List(fields.String(), allow_none=True)
    ready = fields.Boolean(allow_none=True)
    not_after = fields.String(allow_none=True)
    renewal_time = fields.String(allow_none=True)


CERTIFICATE = ResourceKind(
    kind="Certificate",
    group="cert-manager.io",
    version="v1",
    plural="certificates",
    namespaced=True,
    snapshot_key="certificates",
    extract=extract_certificate,
    schema=CertificateSchema,
    display=DisplayHints(
        category="Config",
        columns=(
            "name",
            "namespace",
            Column("ready", "status", good=("true",), bad=("false",)),
            Column("not_after", "time", label="expires"),
            Column("issuer.name", label="issuer"),
        ),
        status_field="ready",
    ),
)


@hookimpl
def obsyk_register_kinds(registry: KindRegistry) -> None:
    registry.register(CERTIFICATE)
