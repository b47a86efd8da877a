"""Secrets the operator keeps in its own namespace: the data-hash key and its credentials."""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Protocol

from obsyk_operator.kube_api import JsonObject, KubeApiError, collection_path

HMAC_KEY_FIELD = "key"
HMAC_KEY_BYTES = 32


class SecretApi(Protocol):
    def get(self, path: str) -> JsonObject: ...

    def create(self, path: str, body: JsonObject) -> JsonObject: ...


class SecretError(Exception):
    """A Secret the operator needs is missing, unreadable or malformed."""


def _decoded(secret: JsonObject, field: str, where: str) -> bytes:
    value = (secret.get("data") or {}).get(field)
    if not value:
        raise SecretError(f"secret {where} has no {field!r} key")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SecretError(f"secret {where} key {field!r} is not valid base64") from None


def load_or_create_hmac_key(api: SecretApi, *, namespace: str, name: str) -> bytes:
    """The per-installation data-hash key, generated and stored on first start.

    Two replicas starting together race on the create; the loser (409) reads
    the winner's key, so every replica hashes with the same key.
    """
    collection = collection_path("", "v1", "secrets", namespace)
    path = f"{collection}/{name}"
    try:
        return _decoded(api.get(path), HMAC_KEY_FIELD, f"{namespace}/{name}")
    except KubeApiError as exc:
        if exc.status != 404:
            raise
    key = secrets.token_bytes(HMAC_KEY_BYTES)
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "obsyk-operator"},
        },
        "type": "Opaque",
        "data": {HMAC_KEY_FIELD: base64.b64encode(key).decode()},
    }
    try:
        api.create(collection, body)
    except KubeApiError as exc:
        if exc.status != 409:
            raise
        return _decoded(api.get(path), HMAC_KEY_FIELD, f"{namespace}/{name}")
    return key


def load_credentials(api: SecretApi, *, namespace: str, name: str) -> tuple[str, str]:
    """``(client_id, private key PEM)`` from a Secret's ``client_id`` and ``private_key`` keys."""
    where = f"{namespace}/{name}"
    try:
        secret = api.get(f"{collection_path('', 'v1', 'secrets', namespace)}/{name}")
    except KubeApiError as exc:
        raise SecretError(f"cannot read credentials secret {where}: {exc}") from None
    client_id = _decoded(secret, "client_id", where).decode().strip()
    private_key = _decoded(secret, "private_key", where).decode()
    return client_id, private_key
