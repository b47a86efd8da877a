"""Deployment, StatefulSet, DaemonSet, Job and CronJob.

Counts that upstream marshals without ``omitempty`` are always present (zero
when the status has not been written yet); defaults follow the API server's
(``replicas``, ``completions`` and ``parallelism`` are 1 when unset).
"""

from __future__ import annotations

from collections.abc import Mapping
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
from obsyk_plugins.core_kinds.metadata import (
    CREATED,
    base_record,
    first_container_image,
    match_labels,
    rfc3339_utc,
    set_if,
)
from obsyk_plugins.core_kinds.record_schema import (
    NamespacedRecordSchema,
    optional_boolean,
    optional_integer,
    optional_string,
    string_map,
)


def _count(value: Any, default: int = 0) -> int:
    return default if value is None else int(value)


def extract_deployment(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    spec: Mapping[str, Any] = raw.get("spec") or {}
    status: Mapping[str, Any] = raw.get("status") or {}
    record["replicas"] = _count(spec.get("replicas"), 1)
    record["ready_replicas"] = _count(status.get("readyReplicas"))
    record["available_replicas"] = _count(status.get("availableReplicas"))
    record["updated_replicas"] = _count(status.get("updatedReplicas"))
    set_if(record, "strategy", (spec.get("strategy") or {}).get("type"))
    set_if(record, "selector", match_labels(spec.get("selector")))
    set_if(record, "image", first_container_image(spec.get("template")))
    return record


def extract_statefulset(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    spec: Mapping[str, Any] = raw.get("spec") or {}
    status: Mapping[str, Any] = raw.get("status") or {}
    record["replicas"] = _count(spec.get("replicas"), 1)
    record["ready_replicas"] = _count(status.get("readyReplicas"))
    record["current_replicas"] = _count(status.get("currentReplicas"))
    set_if(record, "update_strategy", (spec.get("updateStrategy") or {}).get("type"))
    set_if(record, "service_name", spec.get("serviceName"))
    set_if(record, "selector", match_labels(spec.get("selector")))
    set_if(record, "image", first_container_image(spec.get("template")))
    return record


def extract_daemonset(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    spec: Mapping[str, Any] = raw.get("spec") or {}
    status: Mapping[str, Any] = raw.get("status") or {}
    record["desired_number_scheduled"] = _count(status.get("desiredNumberScheduled"))
    record["current_number_scheduled"] = _count(status.get("currentNumberScheduled"))
    record["number_ready"] = _count(status.get("numberReady"))
    record["number_available"] = _count(status.get("numberAvailable"))
    set_if(record, "update_strategy", (spec.get("updateStrategy") or {}).get("type"))
    set_if(record, "selector", match_labels(spec.get("selector")))
    template = spec.get("template") or {}
    node_selector = (template.get("spec") or {}).get("nodeSelector")
    set_if(record, "node_selector", dict(node_selector) if node_selector else None)
    set_if(record, "image", first_container_image(template))
    return record


def extract_job(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    spec: Mapping[str, Any] = raw.get("spec") or {}
    status: Mapping[str, Any] = raw.get("status") or {}
    record["completions"] = _count(spec.get("completions"), 1)
    record["parallelism"] = _count(spec.get("parallelism"), 1)
    record["succeeded"] = _count(status.get("succeeded"))
    record["failed"] = _count(status.get("failed"))
    record["active"] = _count(status.get("active"))
    set_if(record, "start_time", rfc3339_utc(status.get("startTime")))
    set_if(record, "completion_time", rfc3339_utc(status.get("completionTime")))
    owners = (raw.get("metadata") or {}).get("ownerReferences") or ()
    # Upstream names only the owning CronJob: it is what links a run to its schedule.
    set_if(
        record,
        "owner_ref",
        next((o.get("name") for o in owners if o.get("kind") == "CronJob"), None),
    )
    return record


def extract_cronjob(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    spec: Mapping[str, Any] = raw.get("spec") or {}
    status: Mapping[str, Any] = raw.get("status") or {}
    record["schedule"] = spec.get("schedule", "")
    record["suspend"] = bool(spec.get("suspend"))
    set_if(record, "concurrency_policy", spec.get("concurrencyPolicy"))
    set_if(record, "last_schedule_time", rfc3339_utc(status.get("lastScheduleTime")))
    record["active_jobs"] = len(status.get("active") or ())
    return record


# ----------------------------------------------------------------- schemas


class DeploymentSchema(NamespacedRecordSchema):
    replicas = optional_integer()
    ready_replicas = optional_integer()
    available_replicas = optional_integer()
    updated_replicas = optional_integer()
    strategy = optional_string()
    selector = string_map()
    image = optional_string()


class StatefulSetSchema(NamespacedRecordSchema):
    replicas = optional_integer()
    ready_replicas = optional_integer()
    current_replicas = optional_integer()
    update_strategy = optional_string()
    service_name = optional_string()
    selector = string_map()
    image = optional_string()


class DaemonSetSchema(NamespacedRecordSchema):
    desired_number_scheduled = optional_integer()
    current_number_scheduled = optional_integer()
    number_ready = optional_integer()
    number_available = optional_integer()
    update_strategy = optional_string()
    selector = string_map()
    node_selector = string_map()
    image = optional_string()


class JobSchema(NamespacedRecordSchema):
    completions = optional_integer()
    parallelism = optional_integer()
    succeeded = optional_integer()
    failed = optional_integer()
    active = optional_integer()
    start_time = optional_string()
    completion_time = optional_string()
    owner_ref = optional_string()


class CronJobSchema(NamespacedRecordSchema):
    schedule = optional_string()
    suspend = optional_boolean()
    concurrency_policy = optional_string()
    last_schedule_time = optional_string()
    active_jobs = optional_integer()


# ----------------------------------------------------------------- kinds

#: Ready out of desired, the first thing to read about a replicated workload.
_REPLICAS = (Column("ready_replicas", "quantity", label="ready"), Column("replicas", "quantity"))

#: A controller's pods: those its selector picks whose name starts with its own.
_CONTROLS_PODS = Relations(selector="selector", selects=("Pod",), controller=True)


def _job_references(record: Mapping[str, Any]) -> list[Reference]:
    owner = record.get("owner_ref")
    return [Reference("owner", "CronJob", owner)] if isinstance(owner, str) and owner else []


DEPLOYMENT = ResourceKind(
    kind="Deployment",
    group="apps",
    version="v1",
    plural="deployments",
    namespaced=True,
    snapshot_key="deployments",
    extract=extract_deployment,
    relations=_CONTROLS_PODS,
    schema=DeploymentSchema,
    display=DisplayHints(
        category="Workloads",
        columns=(
            "name",
            "namespace",
            *_REPLICAS,
            Column("available_replicas", "quantity", label="available"),
            "image",
            CREATED,
        ),
        status_field="available_replicas",
    ),
)

STATEFULSET = ResourceKind(
    kind="StatefulSet",
    group="apps",
    version="v1",
    plural="statefulsets",
    namespaced=True,
    snapshot_key="statefulsets",
    extract=extract_statefulset,
    relations=_CONTROLS_PODS,
    schema=StatefulSetSchema,
    display=DisplayHints(
        category="Workloads",
        columns=("name", "namespace", *_REPLICAS, "image", CREATED),
        status_field="ready_replicas",
    ),
)

DAEMONSET = ResourceKind(
    kind="DaemonSet",
    group="apps",
    version="v1",
    plural="daemonsets",
    namespaced=True,
    snapshot_key="daemonsets",
    extract=extract_daemonset,
    relations=_CONTROLS_PODS,
    schema=DaemonSetSchema,
    display=DisplayHints(
        category="Workloads",
        columns=(
            "name",
            "namespace",
            Column("desired_number_scheduled", "quantity", label="desired"),
            Column("number_ready", "quantity", label="ready"),
            "image",
            CREATED,
        ),
        status_field="number_ready",
    ),
)

JOB = ResourceKind(
    kind="Job",
    group="batch",
    version="v1",
    plural="jobs",
    namespaced=True,
    snapshot_key="jobs",
    extract=extract_job,
    relations=Relations(references=_job_references, referenced=("CronJob",)),
    schema=JobSchema,
    display=DisplayHints(
        category="Workloads",
        columns=(
            "name",
            "namespace",
            Column("succeeded", "quantity"),
            Column("completions", "quantity"),
            Column("owner_ref", label="owner"),
            Column("start_time", "time", label="started"),
        ),
        status_field="succeeded",
    ),
)

CRONJOB = ResourceKind(
    kind="CronJob",
    group="batch",
    version="v1",
    plural="cronjobs",
    namespaced=True,
    snapshot_key="cronjobs",
    extract=extract_cronjob,
    schema=CronJobSchema,
    display=DisplayHints(
        category="Workloads",
        columns=(
            "name",
            "namespace",
            "schedule",
            Column("suspend", "boolean", label="suspended"),
            Column("last_schedule_time", "time", label="last scheduled"),
        ),
        status_field="suspend",
    ),
)
