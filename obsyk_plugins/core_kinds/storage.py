"""PersistentVolumeClaim (snapshot key ``pvcs``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from obsyk_core.kinds import Column, DisplayHints, RawObject, Record, ResourceKind
from obsyk_plugins.core_kinds.metadata import base_record, set_if
from obsyk_plugins.core_kinds.record_schema import (
    NamespacedRecordSchema,
    optional_string,
    string_list,
)


def extract_pvc(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    spec: Mapping[str, Any] = raw.get("spec") or {}
    set_if(record, "storage_class_name", spec.get("storageClassName"))
    set_if(record, "access_modes", list(spec.get("accessModes") or ()))
    requests = (spec.get("resources") or {}).get("requests") or {}
    set_if(record, "storage_request", requests.get("storage"))
    set_if(record, "volume_name", spec.get("volumeName"))
    set_if(record, "phase", (raw.get("status") or {}).get("phase"))
    set_if(record, "volume_mode", spec.get("volumeMode"))
    return record


class PersistentVolumeClaimSchema(NamespacedRecordSchema):
    storage_class_name = optional_string()
    access_modes = string_list()
    storage_request = optional_string()
    volume_name = optional_string()
    phase = optional_string()
    volume_mode = optional_string()


PERSISTENT_VOLUME_CLAIM = ResourceKind(
    kind="PersistentVolumeClaim",
    group="",
    version="v1",
    plural="persistentvolumeclaims",
    namespaced=True,
    snapshot_key="pvcs",
    extract=extract_pvc,
    schema=PersistentVolumeClaimSchema,
    display=DisplayHints(
        category="Storage",
        columns=(
            "name",
            "namespace",
            Column("phase", "status", good=("Bound",), warn=("Pending",), bad=("Lost",)),
            Column("storage_request", "quantity", label="size"),
            Column("storage_class_name", label="storage class"),
        ),
        status_field="phase",
    ),
)
