"""Fixtures for the core tests: the installed kinds, and a small kind declared by a test plugin."""

from __future__ import annotations

from typing import Any

import marshmallow
import pytest

from obsyk_core.kinds import DisplayHints, KindRegistry, RawObject, Record, ResourceKind
from obsyk_core.plugins import Plugins, build_plugin_manager, hookimpl


class CertificateSchema(marshmallow.Schema):
    class Meta:
        unknown = marshmallow.INCLUDE

    uid = marshmallow.fields.String(required=True, validate=marshmallow.validate.Length(min=1))
    name = marshmallow.fields.String(required=True, validate=marshmallow.validate.Length(min=1))
    namespace = marshmallow.fields.String(allow_none=True)
    ready = marshmallow.fields.Boolean(truthy={True}, falsy={False})
    #: Free-form, as a CRD's spec may be: stored as sent, however deep (within the limit).
    spec = marshmallow.fields.Raw(allow_none=True)


def extract_certificate(raw: RawObject) -> Record:
    meta: dict[str, Any] = dict(raw.get("metadata") or {})
    return {"uid": meta["uid"], "name": meta["name"], "namespace": meta.get("namespace")}


CERTIFICATE = ResourceKind(
    kind="Certificate",
    group="cert-manager.io",
    version="v1",
    plural="certificates",
    namespaced=True,
    snapshot_key="certificates",
    extract=extract_certificate,
    schema=CertificateSchema,
    display=DisplayHints(category="Config", columns=("ready",)),
)


class CertManagerPlugin:
    """What a third-party CRD plugin looks like: one hook implementation."""

    @hookimpl
    def obsyk_register_kinds(self, registry: KindRegistry) -> None:
        registry.register(CERTIFICATE)


@pytest.fixture(scope="session")
def installed() -> Plugins:
    """The installed plugins (the 20 core kinds among them)."""
    return build_plugin_manager(distribution="obsyk", disabled=())


@pytest.fixture(scope="session")
def kinds(installed: Plugins) -> KindRegistry:
    return installed.kinds


@pytest.fixture(scope="session")
def certificate_only() -> KindRegistry:
    """A registry with nothing but the test plugin's Certificate kind."""
    return build_plugin_manager(plugins=[CertManagerPlugin()], load_entry_points=False).kinds
