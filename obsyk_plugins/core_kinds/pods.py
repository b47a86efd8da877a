"""Pod: the biggest record and the one with the most security rules.

Container env **values** never leave (``env_var_names`` only; ``envFrom``
references are not copied either); volumes are reduced to their type and the
name of what they reference, never their content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from obsyk_core.kinds import (
    Column,
    DisplayHints,
    RawObject,
    Record,
    Reference,
    Relations,
    ResourceKind,
)
from obsyk_plugins.core_kinds.metadata import CREATED, base_record, set_if
from obsyk_plugins.core_kinds.record_schema import (
    LenientSchema,
    NamespacedRecordSchema,
    nested,
    nested_list,
    optional_boolean,
    optional_integer,
    optional_string,
    string_list,
)

_CONTAINER_STATES = ("running", "waiting", "terminated")

# (field in the pod spec volume, record type, field naming what it references)
_VOLUME_TYPES: tuple[tuple[str, str, str | None], ...] = (
    ("emptyDir", "emptyDir", None),
    ("configMap", "configMap", "name"),
    ("secret", "secret", "secretName"),
    ("persistentVolumeClaim", "pvc", "claimName"),
    ("hostPath", "hostPath", "path"),
    ("projected", "projected", None),
    ("downwardAPI", "downwardAPI", None),
    ("csi", "csi", "driver"),
    ("nfs", "nfs", "server"),
    ("ephemeral", "ephemeral", None),
)


def extract_pod(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    spec: Mapping[str, Any] = raw.get("spec") or {}
    status: Mapping[str, Any] = raw.get("status") or {}
    set_if(record, "node_name", spec.get("nodeName"))
    set_if(record, "service_account", spec.get("serviceAccountName"))
    set_if(record, "phase", status.get("phase"))
    set_if(record, "qos_class", status.get("qosClass"))
    set_if(record, "priority_class_name", spec.get("priorityClassName"))
    set_if(record, "host_ip", status.get("hostIP"))
    set_if(record, "pod_ip", status.get("podIP"))
    conditions = status.get("conditions")
    if conditions:
        record["conditions"] = [
            {"type": c.get("type", ""), "status": c.get("status", "")} for c in conditions
        ]
    pod_user = (spec.get("securityContext") or {}).get("runAsUser")
    set_if(
        record,
        "containers",
        _containers(spec.get("containers"), status.get("containerStatuses"), pod_user),
    )
    set_if(
        record,
        "init_containers",
        _containers(spec.get("initContainers"), status.get("initContainerStatuses"), pod_user),
    )
    volumes = spec.get("volumes")
    if volumes:
        record["volumes"] = [_volume(v) for v in volumes]
    return record


def _containers(
    specs: Sequence[Mapping[str, Any]] | None,
    statuses: Sequence[Mapping[str, Any]] | None,
    pod_run_as_user: Any,
) -> list[Record]:
    if not specs:
        return []
    by_name = {s.get("name"): s for s in statuses} if statuses else {}
    return [_container(spec, by_name.get(spec.get("name")), pod_run_as_user) for spec in specs]


def _container(
    spec: Mapping[str, Any], status: Mapping[str, Any] | None, pod_run_as_user: Any
) -> Record:
    record: Record = {"name": spec.get("name", ""), "image": spec.get("image", "")}
    if status:
        state = status.get("state") or {}
        for name in _CONTAINER_STATES:
            if name in state:
                record["state"] = name
                # Extension: CrashLoopBackOff, ImagePullBackOff, OOMKilled... say why.
                set_if(record, "reason", (state[name] or {}).get("reason"))
                break
        record["ready"] = bool(status.get("ready"))
        record["restart_count"] = status.get("restartCount") or 0
    else:
        record["ready"] = False
        record["restart_count"] = 0
    record["resources"] = _resources(spec.get("resources"))
    ports = spec.get("ports")
    if ports:
        record["ports"] = [_port(p) for p in ports]
    mounts = spec.get("volumeMounts")
    if mounts:
        record["volume_mounts"] = [
            {
                "name": m.get("name", ""),
                "mount_path": m.get("mountPath", ""),
                "read_only": bool(m.get("readOnly")),
            }
            for m in mounts
        ]
    env = spec.get("env")
    if env:
        # Names only: a value (or a valueFrom reference) never leaves the cluster.
        record["env_var_names"] = [e.get("name", "") for e in env]
    security = _security_context(spec.get("securityContext"), pod_run_as_user)
    if security:
        record["security_context"] = security
    return record


def _resources(resources: Mapping[str, Any] | None) -> Record:
    """Always present: upstream marshals the struct, so a container without any is ``{}``."""
    result: Record = {}
    if not resources:
        return result
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    set_if(result, "cpu_request", requests.get("cpu"))
    set_if(result, "cpu_limit", limits.get("cpu"))
    set_if(result, "memory_request", requests.get("memory"))
    set_if(result, "memory_limit", limits.get("memory"))
    return result


def _port(port: Mapping[str, Any]) -> Record:
    record: Record = {"container_port": port.get("containerPort", 0)}
    set_if(record, "protocol", port.get("protocol"))
    set_if(record, "name", port.get("name"))
    return record


def _security_context(context: Mapping[str, Any] | None, pod_run_as_user: Any) -> Record:
    context = context or {}
    result: Record = {}
    if context.get("privileged"):
        result["privileged"] = True
    run_as_user = context.get("runAsUser", pod_run_as_user)
    if run_as_user == 0:
        result["run_as_root"] = True
    added = (context.get("capabilities") or {}).get("add")
    if added:
        result["capabilities"] = list(added)
    return result


def _volume(volume: Mapping[str, Any]) -> Record:
    record: Record = {"name": volume.get("name", ""), "type": "unknown"}
    for key, type_name, source_field in _VOLUME_TYPES:
        source = volume.get(key)
        if source is None:
            continue
        record["type"] = type_name
        if source_field is not None:
            set_if(record, "source", source.get(source_field))
        break
    return record


# ----------------------------------------------------------------- schema


class ContainerResourcesSchema(LenientSchema):
    cpu_request = optional_string()
    cpu_limit = optional_string()
    memory_request = optional_string()
    memory_limit = optional_string()


class ContainerPortSchema(LenientSchema):
    container_port = optional_integer()
    protocol = optional_string()
    name = optional_string()


class VolumeMountSchema(LenientSchema):
    name = optional_string()
    mount_path = optional_string()
    read_only = optional_boolean()


class SecurityContextSchema(LenientSchema):
    privileged = optional_boolean()
    run_as_root = optional_boolean()
    capabilities = string_list()


class ContainerSchema(LenientSchema):
    name = optional_string()
    image = optional_string()
    state = optional_string()
    reason = optional_string()
    ready = optional_boolean()
    restart_count = optional_integer()
    resources = nested(ContainerResourcesSchema)
    ports = nested_list(ContainerPortSchema)
    volume_mounts = nested_list(VolumeMountSchema)
    env_var_names = string_list()
    security_context = nested(SecurityContextSchema)


class PodConditionSchema(LenientSchema):
    type = optional_string()
    status = optional_string()


class VolumeSchema(LenientSchema):
    name = optional_string()
    type = optional_string()
    source = optional_string()


class PodSchema(NamespacedRecordSchema):
    node_name = optional_string()
    service_account = optional_string()
    phase = optional_string()
    qos_class = optional_string()
    priority_class_name = optional_string()
    host_ip = optional_string()
    pod_ip = optional_string()
    conditions = nested_list(PodConditionSchema)
    containers = nested_list(ContainerSchema)
    init_containers = nested_list(ContainerSchema)
    volumes = nested_list(VolumeSchema)


#: Pod volume types that name an object of the Pod's namespace.
_VOLUME_SOURCES = {"configMap": "ConfigMap", "secret": "Secret", "pvc": "PersistentVolumeClaim"}


def pod_references(record: Mapping[str, Any]) -> list[Reference]:
    """What a Pod uses, by name: its ServiceAccount, Node, and the objects its volumes mount."""
    references = []
    if record.get("service_account"):
        references.append(Reference("uses", "ServiceAccount", record["service_account"]))
    if record.get("node_name"):
        references.append(Reference("uses", "Node", record["node_name"]))
    for volume in record.get("volumes") or ():
        kind = _VOLUME_SOURCES.get(volume.get("type"))
        if kind and volume.get("source"):
            references.append(Reference("uses", kind, volume["source"]))
    return references


POD = ResourceKind(
    kind="Pod",
    group="",
    version="v1",
    plural="pods",
    namespaced=True,
    snapshot_key="pods",
    extract=extract_pod,
    relations=Relations(
        references=pod_references,
        referenced=("ServiceAccount", "Node", *_VOLUME_SOURCES.values()),
    ),
    schema=PodSchema,
    display=DisplayHints(
        category="Workloads",
        columns=(
            "name",
            "namespace",
            Column(
                "phase",
                "status",
                good=("Running", "Succeeded"),
                warn=("Pending", "Unknown"),
                bad=("Failed",),
            ),
            Column("node_name", label="node"),
            "pod_ip",
            CREATED,
        ),
        status_field="phase",
    ),
)
