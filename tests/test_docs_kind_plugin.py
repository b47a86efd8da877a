"""The how-to's example plugin works as the doc says: load, extract, validate, accept snapshots."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import obsyk_plugins.core_kinds as core_kinds
from obsyk_core.plugins import build_plugin_manager
from obsyk_core.wire import BodyError, parse_snapshot

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "obsyk_cert_manager.py"
HOWTO = ROOT / "docs" / "how-to" / "write-a-kind-plugin.md"

CERTIFICATE: dict[str, Any] = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {
        "name": "shop-example-com",
        "namespace": "shop",
        "uid": "c1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b",
        "resourceVersion": "918273",
        "generation": 2,
        "creationTimestamp": "2024-02-01T08:00:00Z",
        "labels": {"app": "shop"},
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        "managedFields": [{"manager": "cert-manager-certificates-issuing", "operation": "Update"}],
    },
    "spec": {
        "secretName": "shop-example-com-tls",
        "dnsNames": ["shop.example.com", "www.shop.example.com"],
        "issuerRef": {
            "name": "letsencrypt-prod",
            "kind": "ClusterIssuer",
            "group": "cert-manager.io",
        },
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "usages": ["digital signature", "key encipherment"],
    },
    "status": {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Ready",
                "message": "Certificate is up to date and has not expired",
                "lastTransitionTime": "2024-02-01T08:01:10Z",
                "observedGeneration": 2,
            }
        ],
        "notBefore": "2024-02-01T07:01:09Z",
        "notAfter": "2024-05-01T07:01:08Z",
        "renewalTime": "2024-03-31T07:01:08Z",
        "revision": 3,
    },
}


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("obsyk_cert_manager", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_registers_certificate_beside_the_core_kinds(example: ModuleType) -> None:
    plugins = build_plugin_manager(
        plugins=[core_kinds, example], load_entry_points=False, disabled=[]
    )
    kind = plugins.kinds.by_snapshot_key("certificates")
    assert (kind.kind, kind.api_version, kind.plural, kind.namespaced) == (
        "Certificate",
        "cert-manager.io/v1",
        "certificates",
        True,
    )
    assert kind.plugin == "obsyk_cert_manager"
    assert len(plugins.kinds) == 21


def test_a_certificate_is_extracted_and_validates(example: ModuleType) -> None:
    kind = build_plugin_manager(
        plugins=[example], load_entry_points=False, disabled=[]
    ).kinds.by_kind("Certificate")
    record = kind.extract(CERTIFICATE)
    assert record == {
        "uid": "c1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b",
        "name": "shop-example-com",
        "namespace": "shop",
        "labels": {"app": "shop"},
        "k8s_created_at": "2024-02-01T08:00:00Z",
        "issuer": {"kind": "ClusterIssuer", "name": "letsencrypt-prod"},
        "secret_name": "shop-example-com-tls",
        "dns_names": ["shop.example.com", "www.shop.example.com"],
        "ready": True,
        "not_after": "2024-05-01T07:01:08Z",
        "renewal_time": "2024-03-31T07:01:08Z",
    }
    assert kind.validate(record) is None
    assert kind.validate({"name": "no-uid"}) == {"uid": ["Missing data for required field."]}


def test_snapshots_with_certificates_need_the_plugin(example: ModuleType) -> None:
    with_plugin = build_plugin_manager(
        plugins=[core_kinds, example], load_entry_points=False, disabled=[]
    ).kinds
    record = with_plugin.by_kind("Certificate").extract(CERTIFICATE)
    body = {
        "cluster_uid": "kube-system-uid",
        "cluster_name": "prod",
        "pods": [],
        "certificates": [record],
    }

    snapshot = parse_snapshot(body, with_plugin)
    [resource] = snapshot.resources["Certificate"]
    assert (resource.uid, resource.namespace, resource.name) == (
        "c1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b",
        "shop",
        "shop-example-com",
    )
    assert snapshot.resources["Pod"] == []

    without_plugin = build_plugin_manager(
        plugins=[core_kinds], load_entry_points=False, disabled=[]
    ).kinds
    with pytest.raises(BodyError) as caught:
        parse_snapshot(body, without_plugin)
    assert list(caught.value.errors) == ["certificates"]
    assert "certificates" in str(caught.value)


def test_the_howto_shows_the_shipped_example_and_its_entry_point() -> None:
    text = HOWTO.read_text()
    # The doc embeds the example module verbatim, so the two cannot drift apart.
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert EXAMPLE.read_text() in blocks
    assert '[project.entry-points.obsyk]\ncert_manager = "obsyk_cert_manager"' in text


def test_every_name_the_howto_uses_imports_from_where_it_says() -> None:
    table = HOWTO.read_text().split("### Where the names in this guide come from", 1)[1]
    rows = re.findall(r"^\| (`.+?`) \| `([\w.]+)`", table.split("\n\n", 2)[1], re.MULTILINE)
    assert len(rows) >= 6
    for names, module_name in rows:
        module = importlib.import_module(module_name)
        for name in re.findall(r"`(\w+)`", names):
            assert hasattr(module, name), f"{module_name}.{name}"
