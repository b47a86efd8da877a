"""``data_hashes``: the kind's own keyed extractor, a per-installation key, never the key itself."""

from __future__ import annotations

import base64
import dataclasses
import hmac
from collections.abc import Callable

import pytest
from fake_platform import FakePlatform

from obsyk_core.kinds import KindRegistry, RawObject, Record
from obsyk_operator.data_hashes import SecretRef, with_data_hashes
from obsyk_operator.operator import Operator
from obsyk_operator.testing.kube_server import KubeServer

KEY_SECRET = SecretRef("obsyk-system", "obsyk-operator-hmac")


def secret_records(platform: FakePlatform) -> dict[str, Record]:
    return {record["name"]: record for record in platform.records("Secret").values()}


def test_secret_hashes_use_the_stored_key_and_the_key_secret_ships_key_names_only(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    kube.add(
        "secrets",
        {"metadata": {"name": "db"}, "data": {"pw": base64.b64encode(b"s3cr3t").decode()}},
    )
    kube.add("configmaps", {"metadata": {"name": "cfg"}, "data": {"host": "db.internal"}})
    start_operator()
    platform.wait_for(lambda: {"db", "obsyk-operator-hmac"} <= set(secret_records(platform)))
    stored = kube.get("secrets", "obsyk-operator-hmac", namespace="obsyk-system")
    key = base64.b64decode(stored["data"]["key"])

    records = secret_records(platform)
    assert records["db"]["data_hashes"] == {"pw": hmac.new(key, b"s3cr3t", "sha256").hexdigest()}
    [configmap] = platform.records("ConfigMap").values()
    assert configmap["data_hashes"] == {"host": hmac.new(key, b"db.internal", "sha256").hexdigest()}
    own = records["obsyk-operator-hmac"]
    assert own["data_keys"] == ["key"]
    assert "data_hashes" not in own
    assert hmac.new(key, key, "sha256").hexdigest() not in repr(platform.received)


def test_a_key_too_short_to_be_safe_turns_hashing_off_instead_of_failing_start(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    short = base64.b64encode(b"short").decode()
    kube.add(
        "secrets",
        {
            "metadata": {"name": KEY_SECRET.name, "namespace": KEY_SECRET.namespace},
            "data": {"key": short},
        },
    )
    kube.add(
        "secrets", {"metadata": {"name": "db"}, "data": {"pw": base64.b64encode(b"x").decode()}}
    )
    operator = start_operator()
    platform.wait_for(lambda: "db" in secret_records(platform))
    assert "data_hashes" not in secret_records(platform)["db"]
    assert operator.ready.is_set()


def test_any_kind_declaring_a_data_hash_extractor_gets_its_keyed_extractor(
    kind_registry: KindRegistry,
) -> None:
    given_keys: list[bytes] = []

    def keyed(key: bytes) -> Callable[[RawObject], Record]:
        given_keys.append(key)
        return lambda raw: {"uid": "u", "name": "n", "data_hashes": {"k": "h"}}

    certificate = dataclasses.replace(
        kind_registry.by_kind("ConfigMap"), kind="Certificate", data_hash_extractor=keyed
    )
    hashed = with_data_hashes(certificate, b"k" * 32, key_secret=KEY_SECRET)
    assert hashed.extract({"metadata": {}})["data_hashes"] == {"k": "h"}
    assert given_keys == [b"k" * 32]

    pod = kind_registry.by_kind("Pod")
    assert with_data_hashes(pod, b"k" * 32, key_secret=KEY_SECRET) is pod


def test_the_core_kinds_refuse_a_short_key(kind_registry: KindRegistry) -> None:
    with pytest.raises(ValueError, match="at least"):
        with_data_hashes(kind_registry.by_kind("Secret"), b"short", key_secret=KEY_SECRET)
