"""``GET /api/v1/kinds``: the installed kinds with their display hints, for viewers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import marshmallow as ma
import pytest
from agent_wire import User
from app_support import embedded_config, new_org, new_user_token
from flask import Flask

from obsyk_core.kinds import CATEGORIES, Column, DisplayHints, KindRegistry, ResourceKind
from obsyk_core.plugins import build_plugin_manager, hookimpl
from obsyk_plugins.core_kinds import CORE_KINDS
from reference_app import create_app
from reference_app.app import close_app


def _kinds(app: Flask) -> dict[str, dict[str, Any]]:
    """The listing as the weakest role (viewer) sees it, by kind name."""
    user = User(app.test_client(), new_user_token(app, new_org(app), "viewer"))
    response = user.get("/api/v1/kinds")
    assert response.status_code == 200, response.get_json()
    return {item["kind"]: item for item in response.get_json()["items"]}


def test_lists_the_core_kinds_with_their_display_hints(embedded_app: Flask) -> None:
    listed = _kinds(embedded_app)

    assert set(listed) == {kind.kind for kind in CORE_KINDS} and len(listed) == 20
    for declared in CORE_KINDS:
        item = listed[declared.kind]
        assert item["group"] == declared.group and item["version"] == declared.version
        assert item["namespaced"] is declared.namespaced
        assert item["snapshot_key"] == declared.snapshot_key
        assert item["display"] == {
            "category": declared.display.category,
            "columns": [_column_json(column) for column in declared.display.columns],
            "status_field": declared.display.status_field,
        }
    assert listed["Deployment"]["api_version"] == "apps/v1" and listed["Pod"]["api_version"] == "v1"
    pod = listed["Pod"]["display"]
    assert pod["status_field"] == "phase"
    [phase] = [column for column in pod["columns"] if column["field"] == "phase"]
    assert phase == {
        "field": "phase",
        "type": "status",
        "label": "phase",
        "good": ["Running", "Succeeded"],
        "warn": ["Pending", "Unknown"],
        "bad": ["Failed"],
    }
    created = pod["columns"][-1]
    assert (created["field"], created["type"], created["label"]) == (
        "k8s_created_at",
        "time",
        "created",
    )


def _column_json(column: Column | str) -> dict[str, Any]:
    assert isinstance(column, Column)
    return {
        "field": column.field,
        "type": column.type,
        "label": column.label,
        "good": list(column.good),
        "warn": list(column.warn),
        "bad": list(column.bad),
    }


def test_kinds_come_category_by_category(embedded_app: Flask) -> None:
    order = [
        (CATEGORIES.index(k["display"]["category"]), name)
        for name, k in _kinds(embedded_app).items()
    ]

    assert order == sorted(order)


class _CertificateSchema(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE


class _CertificatePlugin:
    """A third-party kind, registered the way any plugin registers one."""

    @hookimpl
    def obsyk_register_kinds(self, registry: KindRegistry) -> None:
        registry.register(
            ResourceKind(
                kind="Certificate",
                group="cert-manager.io",
                version="v1",
                plural="certificates",
                namespaced=True,
                snapshot_key="certificates",
                extract=dict,
                schema=_CertificateSchema,
                display=DisplayHints(category="Config", columns=("name", "issuer.name")),
            )
        )


@pytest.fixture
def app_with_plugin_kind(tmp_path: Path) -> Iterator[Flask]:
    plugins = build_plugin_manager(
        plugins=[_CertificatePlugin()], distribution="obsyk", disabled=[]
    )
    app = create_app(embedded_config(tmp_path, PLUGINS=plugins))
    yield app
    close_app(app)


def test_a_plugin_kind_is_listed_like_a_core_kind(app_with_plugin_kind: Flask) -> None:
    listed = _kinds(app_with_plugin_kind)

    assert len(listed) == 21
    certificate = listed["Certificate"]
    assert certificate["api_version"] == "cert-manager.io/v1"
    # Plain field names are text columns, headed by the field's words.
    assert [(c["field"], c["type"], c["label"]) for c in certificate["display"]["columns"]] == [
        ("name", "text", "name"),
        ("issuer.name", "text", "issuer name"),
    ]
    assert certificate["display"]["status_field"] is None


def test_kinds_need_a_personal_api_token(embedded_app: Flask) -> None:
    client = embedded_app.test_client()

    missing = client.get("/api/v1/kinds")
    wrong = client.get("/api/v1/kinds", headers={"Authorization": "Bearer obsyk_pat_nope"})

    assert missing.status_code == 401 and wrong.status_code == 401
    assert wrong.get_json()["message"] == "The API token is unknown or was revoked."


def test_kinds_are_in_the_openapi_document(embedded_app: Flask) -> None:
    spec = embedded_app.test_client().get("/api/openapi.json").get_json()

    operation = spec["paths"]["/api/v1/kinds"]["get"]
    assert operation["security"] == [{"bearer": []}]
    assert {"200", "401"} <= set(operation["responses"])
    kind_schema = spec["components"]["schemas"]["Kind"]["properties"]
    assert {"kind", "group", "version", "namespaced", "snapshot_key", "display"} <= set(kind_schema)
