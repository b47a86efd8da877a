"""Namespace and Node: the cluster-scoped kinds that frame everything else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from obsyk_core.kinds import Column, DisplayHints, RawObject, Record, ResourceKind
from obsyk_plugins.core_kinds.metadata import CREATED, base_record, set_if
from obsyk_plugins.core_kinds.record_schema import RecordSchema, optional_string, string_list

_ROLE_LABEL_PREFIX = "node-role.kubernetes.io/"
# Older clusters label control planes "master"; upstream reports both as control-plane.
_ROLE_ALIASES = {"master": "control-plane"}


def extract_namespace(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=False)
    set_if(record, "phase", (raw.get("status") or {}).get("phase"))
    return record


def extract_node(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=False)
    status: Mapping[str, Any] = raw.get("status") or {}
    record["status"] = _readiness(status.get("conditions"))
    set_if(record, "roles", _roles((raw.get("metadata") or {}).get("labels")))
    info: Mapping[str, Any] = status.get("nodeInfo") or {}
    set_if(record, "kubelet_version", info.get("kubeletVersion"))
    set_if(record, "container_runtime", info.get("containerRuntimeVersion"))
    set_if(record, "os_image", info.get("osImage"))
    set_if(record, "architecture", info.get("architecture"))
    capacity: Mapping[str, Any] = status.get("capacity") or {}
    set_if(record, "cpu_capacity", capacity.get("cpu"))
    set_if(record, "memory_capacity", capacity.get("memory"))
    set_if(record, "pod_capacity", capacity.get("pods"))
    return record


def _readiness(conditions: Any) -> str:
    for condition in conditions or ():
        if condition.get("type") == "Ready":
            return "Ready" if condition.get("status") == "True" else "NotReady"
    return "NotReady"


def _roles(labels: Mapping[str, str] | None) -> list[str]:
    roles: list[str] = []
    for label in labels or ():
        if label.startswith(_ROLE_LABEL_PREFIX) and len(label) > len(_ROLE_LABEL_PREFIX):
            role = label[len(_ROLE_LABEL_PREFIX) :]
            role = _ROLE_ALIASES.get(role, role)
            if role not in roles:
                roles.append(role)
    return roles


class NamespaceSchema(RecordSchema):
    phase = optional_string()


class NodeSchema(RecordSchema):
    status = optional_string()
    roles = string_list()
    kubelet_version = optional_string()
    container_runtime = optional_string()
    os_image = optional_string()
    architecture = optional_string()
    cpu_capacity = optional_string()
    memory_capacity = optional_string()
    pod_capacity = optional_string()


NAMESPACE = ResourceKind(
    kind="Namespace",
    group="",
    version="v1",
    plural="namespaces",
    namespaced=False,
    snapshot_key="namespaces",
    extract=extract_namespace,
    schema=NamespaceSchema,
    display=DisplayHints(
        category="Cluster",
        columns=(
            "name",
            Column("phase", "status", good=("Active",), warn=("Terminating",)),
            CREATED,
        ),
        status_field="phase",
    ),
)

NODE = ResourceKind(
    kind="Node",
    group="",
    version="v1",
    plural="nodes",
    namespaced=False,
    snapshot_key="nodes",
    extract=extract_node,
    schema=NodeSchema,
    display=DisplayHints(
        category="Cluster",
        columns=(
            "name",
            Column("status", "status", good=("Ready",), bad=("NotReady",)),
            Column("roles", "list"),
            "kubelet_version",
            Column("cpu_capacity", "quantity", label="cpu"),
            Column("memory_capacity", "quantity", label="memory"),
        ),
        status_field="status",
    ),
)
