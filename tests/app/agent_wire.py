"""Helpers for the agent and API tests: upstream-shaped bodies and thin HTTP wrappers.

The upstream bodies are written out as JSON text, field for field as the Go
operator (v0.3.x) marshals them (CONTRACT.md sections 2 and 4): snake_case
fields, ``targetPort`` in camelCase, ``resources: {}`` on a container without
requests, Go ``null`` for nil slices, every one of the twenty arrays present.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from obsyk_core.storage import ResourceQuery
from obsyk_plugins.core_kinds import CORE_KINDS
from reference_app.state import get_state

SNAPSHOT_KEYS = (
    *("namespaces", "pods", "services", "nodes", "deployments", "statefulsets", "daemonsets"),
    *("jobs", "cronjobs", "ingresses", "network_policies", "configmaps", "secrets", "pvcs"),
    *("service_accounts", "roles", "cluster_roles", "role_bindings", "cluster_role_bindings"),
    "events",
)

#: The kinds the platform says it accepts (heartbeat, `GET /api/v1/agent/kinds`), core only.
CORE_KIND_NAMES = sorted(kind.kind for kind in CORE_KINDS)

#: An upstream snapshot body, byte for byte; ``%(cluster_uid)s`` is the cluster's uid.
UPSTREAM_SNAPSHOT = (Path(__file__).parent / "upstream_snapshot.json").read_text()

#: The uids in :data:`UPSTREAM_SNAPSHOT` besides kube-system's (which is the cluster uid).
UPSTREAM_UIDS = {
    "ns-shop", "pod-web-1", "pod-db-0", "svc-web", "node-a", "dep-web", "sts-db",
    "job-migrate", "cj-report", "ing-web", "np-default", "cm-web", "sec-tls", "pvc-db",
    "sa-web", "role-read", "cr-view", "rb-read", "crb-view", "ev-1",
}  # fmt: skip


def upstream_snapshot(cluster_uid: str) -> bytes:
    return (UPSTREAM_SNAPSHOT % {"cluster_uid": cluster_uid}).encode()


def new_cluster_uid() -> str:
    return str(uuid.uuid4())


def pod(uid: str, name: str, namespace: str = "default", **fields: Any) -> dict[str, Any]:
    """A minimal Pod record (extra fields merged in)."""
    return {"uid": uid, "name": name, "namespace": namespace, **fields}


def snapshot(cluster_uid: str, **arrays: list[dict[str, Any]]) -> dict[str, Any]:
    """A snapshot carrying only the given arrays (absent kinds are left untouched)."""
    return {"cluster_uid": cluster_uid, "cluster_name": "test", "agent_version": "dev", **arrays}


def event(
    cluster_uid: str | None,
    type_: str,
    kind: str,
    record: Mapping[str, Any],
    *,
    with_object: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """An event as upstream sends it; ``deleted`` carries no ``object`` unless asked."""
    body: dict[str, Any] = {
        "type": type_,
        "kind": kind,
        "uid": record["uid"],
        "name": record["name"],
    }
    if cluster_uid is not None:
        body = {"cluster_uid": cluster_uid, **body}
    if record.get("namespace"):
        body["namespace"] = record["namespace"]
    if with_object and type_ != "deleted":
        body["object"] = dict(record)
    body.update(extra)
    return body


@dataclass
class Agent:
    """An operator: posts bodies with its access token."""

    client: FlaskClient
    token: str
    cluster_uid: str
    #: The registered cluster the token's credential belongs to (for assertions).
    cluster_id: str = ""
    org_id: str = ""

    def post(self, endpoint: str, body: Any, **kwargs: Any) -> TestResponse:
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.post(
            f"/api/v1/agent/{endpoint}",
            data=data,
            content_type="application/json",
            headers=headers,
            **kwargs,
        )

    def snapshot(self, **arrays: list[dict[str, Any]]) -> TestResponse:
        return self.post("snapshot", snapshot(self.cluster_uid, **arrays))

    def event(self, type_: str, kind: str, record: Mapping[str, Any], **extra: Any) -> TestResponse:
        return self.post("events", event(self.cluster_uid, type_, kind, record, **extra))


@dataclass
class User:
    """A person: calls the REST API with a personal API token."""

    client: FlaskClient
    token: str

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> TestResponse:
        return self.client.get(path, query_string=params, headers=self._headers())

    def post(self, path: str, body: Any = None) -> TestResponse:
        return self.client.post(path, json=body, headers=self._headers())

    def delete(self, path: str) -> TestResponse:
        return self.client.delete(path, headers=self._headers())

    def all_resources(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Follow ``next_cursor`` to the end and return every item."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page_params = dict(params, **({"cursor": cursor} if cursor else {}))
            response = self.get(path, **page_params)
            assert response.status_code == 200, response.get_json()
            page = response.get_json()
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return items


def stored_inventory(app: Flask, cluster_id: str) -> dict[str, tuple[str, str, bool]]:
    """What the storage holds for a cluster, deleted rows included: uid -> (kind, hash, live)."""
    rows = get_state(app).storage.query_resources(
        ResourceQuery(cluster_ids=(cluster_id,), include_deleted=True, limit=100_000)
    )
    return {row.uid: (row.kind, row.content_hash, row.deleted_at is None) for row in rows}


def history_lengths(app: Flask, cluster_id: str, uids: Iterable[str]) -> dict[str, int]:
    storage = get_state(app).storage
    return {uid: len(storage.resource_history(cluster_id, uid)) for uid in uids}
