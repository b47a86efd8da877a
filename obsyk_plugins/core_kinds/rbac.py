"""ServiceAccount, Role, ClusterRole, RoleBinding and ClusterRoleBinding.

Roles are summarised (rule count and the resource types they cover), not
copied: the inventory answers "what can touch secrets?", and the full rule
list stays a ``kubectl`` away.  A ServiceAccount's ``secrets`` are names only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from obsyk_core.kinds import Column, DisplayHints, RawObject, Record, ResourceKind
from obsyk_plugins.core_kinds.metadata import CREATED, base_record, set_if
from obsyk_plugins.core_kinds.record_schema import (
    LenientSchema,
    NamespacedRecordSchema,
    RecordSchema,
    nested,
    nested_list,
    optional_boolean,
    optional_integer,
    optional_string,
    string_list,
)


def extract_service_account(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    set_if(record, "secrets", _names(raw.get("secrets")))
    set_if(record, "image_pull_secrets", _names(raw.get("imagePullSecrets")))
    automount = raw.get("automountServiceAccountToken")
    if automount is not None:
        record["automount_service_account_token"] = bool(automount)
    return record


def _names(refs: Any) -> list[str]:
    return [r["name"] for r in refs or () if r.get("name")]


def _role(raw: RawObject, *, is_cluster: bool) -> Record:
    record = base_record(raw, namespaced=not is_cluster)
    rules = raw.get("rules") or ()
    record["is_cluster"] = is_cluster
    record["rule_count"] = len(rules)
    # Sorted and unique: the same rules in another order are the same role.
    record["resources"] = sorted({r for rule in rules for r in rule.get("resources") or ()})
    return record


def extract_role(raw: RawObject) -> Record:
    return _role(raw, is_cluster=False)


def extract_cluster_role(raw: RawObject) -> Record:
    return _role(raw, is_cluster=True)


def _binding(raw: RawObject, *, is_cluster: bool) -> Record:
    record = base_record(raw, namespaced=not is_cluster)
    record["is_cluster"] = is_cluster
    ref: Mapping[str, Any] = raw.get("roleRef") or {}
    record["role_ref"] = {"kind": ref.get("kind", ""), "name": ref.get("name", "")}
    subjects = raw.get("subjects")
    if subjects:
        record["subjects"] = [_subject(s) for s in subjects]
    return record


def _subject(subject: Mapping[str, Any]) -> Record:
    record: Record = {"kind": subject.get("kind", ""), "name": subject.get("name", "")}
    set_if(record, "namespace", subject.get("namespace"))
    return record


def extract_role_binding(raw: RawObject) -> Record:
    return _binding(raw, is_cluster=False)


def extract_cluster_role_binding(raw: RawObject) -> Record:
    return _binding(raw, is_cluster=True)


# ----------------------------------------------------------------- schemas


class ServiceAccountSchema(NamespacedRecordSchema):
    secrets = string_list()
    image_pull_secrets = string_list()
    automount_service_account_token = optional_boolean()


class RoleSchema(NamespacedRecordSchema):
    """Role and ClusterRole (``namespace`` absent for the latter)."""

    is_cluster = optional_boolean()
    rule_count = optional_integer()
    resources = string_list()


class RoleRefSchema(LenientSchema):
    kind = optional_string()
    name = optional_string()


class SubjectSchema(LenientSchema):
    kind = optional_string()
    name = optional_string()
    namespace = optional_string()


class RoleBindingSchema(NamespacedRecordSchema):
    """RoleBinding and ClusterRoleBinding (``namespace`` absent for the latter)."""

    is_cluster = optional_boolean()
    role_ref = nested(RoleRefSchema)
    subjects = nested_list(SubjectSchema)


# ----------------------------------------------------------------- kinds


def _rbac_kind(
    kind: str,
    plural: str,
    namespaced: bool,
    key: str,
    extract: Callable[[RawObject], Record],
    schema: type[RecordSchema],
) -> ResourceKind:
    columns: tuple[Column | str, ...] = ("name", "namespace") if namespaced else ("name",)
    if schema is RoleSchema:
        columns += (Column("rule_count", "quantity", label="rules"), Column("resources", "list"))
    else:
        columns += ("role_ref.kind", "role_ref.name")
    return ResourceKind(
        kind=kind,
        group="rbac.authorization.k8s.io",
        version="v1",
        plural=plural,
        namespaced=namespaced,
        snapshot_key=key,
        extract=extract,
        schema=schema,
        display=DisplayHints(category="RBAC", columns=(*columns, CREATED)),
    )


SERVICE_ACCOUNT = ResourceKind(
    kind="ServiceAccount",
    group="",
    version="v1",
    plural="serviceaccounts",
    namespaced=True,
    snapshot_key="service_accounts",
    extract=extract_service_account,
    schema=ServiceAccountSchema,
    display=DisplayHints(
        category="RBAC",
        columns=(
            "name",
            "namespace",
            Column("automount_service_account_token", "boolean", label="automount token"),
            CREATED,
        ),
    ),
)
ROLE = _rbac_kind("Role", "roles", True, "roles", extract_role, RoleSchema)
CLUSTER_ROLE = _rbac_kind(
    "ClusterRole", "clusterroles", False, "cluster_roles", extract_cluster_role, RoleSchema
)
ROLE_BINDING = _rbac_kind(
    "RoleBinding", "rolebindings", True, "role_bindings", extract_role_binding, RoleBindingSchema
)
CLUSTER_ROLE_BINDING = _rbac_kind(
    "ClusterRoleBinding",
    "clusterrolebindings",
    False,
    "cluster_role_bindings",
    extract_cluster_role_binding,
    RoleBindingSchema,
)
