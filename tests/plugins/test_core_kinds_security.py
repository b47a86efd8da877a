"""No Secret/ConfigMap value, env value, Kubernetes annotation or managedFields ever leaves.

Each test pulls the sensitive values out of the realistic sample object itself
and searches the serialised record for every one of them, so adding a value
to a sample automatically extends the check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from obsyk_core.kinds import KindRegistry
from obsyk_core.record_trim import trim_record
from obsyk_plugins.core_kinds.config import (
    configmap_data_hashes,
    make_configmap_extractor,
    make_secret_extractor,
)
from obsyk_plugins.core_kinds.testing.samples import SAMPLE_KINDS, sample_object, synthetic_cluster

HMAC_KEY = b"k" * 32


def serialised(record: dict[str, Any]) -> str:
    return orjson.dumps(record).decode()


def env_values(pod: dict[str, Any]) -> Iterator[str]:
    spec = pod["spec"]
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        for env in container.get("env", []):
            if "value" in env:
                yield env["value"]
            if "valueFrom" in env:
                yield json.dumps(env["valueFrom"])


def test_pod_env_values_never_leave(core_registry: KindRegistry) -> None:
    pod = sample_object("Pod")
    values = list(env_values(pod))
    assert "sk_live_51HxEnvValueMustNeverLeave" in values  # the sample does carry secrets
    text = serialised(core_registry.by_kind("Pod").extract(pod))
    for value in values:
        assert value not in text
    # ...nor the names of the Secret/ConfigMap the env was loaded from.
    assert "payments-db" not in text
    assert "secretKeyRef" not in text and "configMapRef" not in text


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"])
def test_workload_pod_templates_leak_no_env_values(core_registry: KindRegistry, kind: str) -> None:
    text = serialised(core_registry.by_kind(kind).extract(sample_object(kind)))
    assert "sk_live_template_value" not in text


def secret_values(secret: dict[str, Any]) -> Iterator[str]:
    for encoded in secret["data"].values():
        yield encoded
        yield base64.b64decode(encoded).decode()


def test_secret_values_never_leave_encoded_or_decoded(core_registry: KindRegistry) -> None:
    secret = sample_object("Secret")
    values = list(secret_values(secret))
    assert "Pg-Sup3r-S3cret!" in values
    text = serialised(core_registry.by_kind("Secret").extract(secret))
    for value in values:
        assert value not in text
    # The last-applied annotation embeds the password too; it is dropped whole.
    assert "last-applied" not in text


def test_configmap_values_and_last_applied_never_leave(core_registry: KindRegistry) -> None:
    configmap = sample_object("ConfigMap")
    annotation = configmap["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"
    ]
    assert "whsec-configmap-value-9f8e7d" in annotation  # the sample embeds a value
    values = [*configmap["data"].values(), *configmap["binaryData"].values(), annotation]
    text = serialised(core_registry.by_kind("ConfigMap").extract(configmap))
    for value in values:
        assert value not in text
    assert "whsec-configmap-value-9f8e7d" not in text


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
def test_no_record_carries_managed_fields_or_kubernetes_annotations(
    core_registry: KindRegistry, kind: str
) -> None:
    raw = sample_object(kind)
    record = core_registry.by_kind(kind).extract(raw)
    text = serialised(record)
    assert "managedFields" not in text and "fieldsV1" not in text
    assert "kubernetes.io/" not in json.dumps(record.get("annotations", {}))
    assert "resourceVersion" not in text


def test_no_value_survives_a_whole_synthetic_cluster(core_registry: KindRegistry) -> None:
    for kind, raw in synthetic_cluster(600, seed=7):
        record = core_registry.by_kind(kind).extract(raw)
        text = serialised(record)
        if kind == "Secret":
            assert all(v not in text for v in secret_values(raw))
        elif kind == "ConfigMap":
            assert all(v not in text for v in raw["data"].values())
        elif kind == "Pod":
            assert all(v not in text for v in env_values(raw))


# ----------------------------------------------------------------- data_hashes extension


def test_secret_hashes_are_hmac_sha256_of_the_decoded_values() -> None:
    secret = sample_object("Secret")
    record = make_secret_extractor(HMAC_KEY)(secret)
    expected = hmac.new(HMAC_KEY, b"Pg-Sup3r-S3cret!", hashlib.sha256).hexdigest()
    assert record["data_hashes"]["password"] == expected
    assert sorted(record["data_hashes"]) == record["data_keys"]
    text = serialised(record)
    for value in secret_values(secret):
        assert value not in text


def test_a_changed_value_changes_only_its_hash() -> None:
    extract = make_secret_extractor(HMAC_KEY)
    before = extract(sample_object("Secret"))
    changed = sample_object("Secret")
    changed["data"]["password"] = base64.b64encode(b"rotated").decode()
    after = extract(changed)
    assert after["data_hashes"]["password"] != before["data_hashes"]["password"]
    assert after["data_hashes"]["username"] == before["data_hashes"]["username"]


def test_hashes_depend_on_the_installation_key() -> None:
    secret = sample_object("Secret")
    one = make_secret_extractor(b"a" * 32)(secret)["data_hashes"]
    other = make_secret_extractor(b"b" * 32)(secret)["data_hashes"]
    assert one["password"] != other["password"]


def test_configmap_hashes_cover_text_and_binary_values() -> None:
    configmap = sample_object("ConfigMap")
    record = make_configmap_extractor(HMAC_KEY)(configmap)
    assert sorted(record["data_hashes"]) == sorted(record["data_keys"] + record["binary_keys"])
    assert (
        record["data_hashes"]["DB_HOST"] == hmac.new(HMAC_KEY, b"db.internal", "sha256").hexdigest()
    )
    png = base64.b64decode(configmap["binaryData"]["logo.png"])
    assert record["data_hashes"]["logo.png"] == hmac.new(HMAC_KEY, png, "sha256").hexdigest()
    assert configmap_data_hashes(configmap, HMAC_KEY) == record["data_hashes"]
    assert "whsec-configmap-value-9f8e7d" not in serialised(record)


def test_without_a_key_the_records_are_upstreams(core_registry: KindRegistry) -> None:
    for kind, factory in (
        ("Secret", make_secret_extractor),
        ("ConfigMap", make_configmap_extractor),
    ):
        raw = sample_object(kind)
        assert factory(None)(raw) == core_registry.by_kind(kind).extract(raw)


@pytest.mark.parametrize("key", [b"", b"short", "a string key of enough length"])
def test_a_weak_or_wrong_key_is_refused_up_front(key: Any) -> None:
    with pytest.raises(ValueError, match="at least 16 random bytes"):
        make_secret_extractor(key)


def test_hashed_records_validate(core_registry: KindRegistry) -> None:
    for kind, factory in (
        ("Secret", make_secret_extractor),
        ("ConfigMap", make_configmap_extractor),
    ):
        record = factory(HMAC_KEY)(sample_object(kind))
        assert core_registry.by_kind(kind).validate(record) is None


def test_the_platform_stores_every_field_the_operator_sends(core_registry: KindRegistry) -> None:
    """The platform's trim (obsyk_core.record_trim) and the extractors agree: one rule set.

    Every field an extractor writes, data hashes included, is one the kind's schema
    declares, so the platform drops nothing our operator sends.
    """
    objects = [(name, sample_object(name)) for name in SAMPLE_KINDS]
    for name, raw in [*objects, *synthetic_cluster(300, seed=11)]:
        kind = core_registry.get(name)
        assert kind is not None
        extractors = [kind.extract]
        if kind.data_hash_extractor is not None:
            extractors.append(kind.data_hash_extractor(HMAC_KEY))
        for extract in extractors:
            record = extract(raw)
            dropped: Counter[str] = Counter()
            assert trim_record(kind.schema, record, dropped) is record, (name, dropped)
            assert not dropped
