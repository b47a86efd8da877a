"""Service, Ingress and NetworkPolicy.

Service ports keep upstream's one camelCase field, ``targetPort``, sent as a
string (a number or a named port) exactly as Go's ``IntOrString.String()``.
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
from obsyk_plugins.core_kinds.metadata import CREATED, base_record, match_labels, set_if
from obsyk_plugins.core_kinds.record_schema import (
    IntOrString,
    LenientSchema,
    NamespacedRecordSchema,
    nested_list,
    optional_integer,
    optional_string,
    string_list,
    string_map,
)


def extract_service(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    spec: Mapping[str, Any] = raw.get("spec") or {}
    set_if(record, "service_type", spec.get("type"))
    set_if(record, "cluster_ip", spec.get("clusterIP"))
    ports = spec.get("ports")
    if ports:
        record["ports"] = [_service_port(p) for p in ports]
    selector = spec.get("selector")
    set_if(record, "selector", dict(selector) if selector else None)
    return record


def _service_port(port: Mapping[str, Any]) -> Record:
    record: Record = {}
    set_if(record, "name", port.get("name"))
    record["protocol"] = port.get("protocol") or "TCP"
    record["port"] = port.get("port", 0)
    target = port.get("targetPort")
    if target is not None and target != "":
        record["targetPort"] = str(target)
    return record


def extract_ingress(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    spec: Mapping[str, Any] = raw.get("spec") or {}
    set_if(record, "ingress_class_name", spec.get("ingressClassName"))
    rules = spec.get("rules")
    if rules:
        record["rules"] = [_ingress_rule(r) for r in rules]
    tls = spec.get("tls")
    if tls:
        entries = []
        for entry in tls:
            item: Record = {}
            set_if(item, "hosts", list(entry.get("hosts") or ()))
            set_if(item, "secret_name", entry.get("secretName"))
            entries.append(item)
        record["tls"] = entries
    balancers = ((raw.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    addresses = [b.get("ip") or b.get("hostname") for b in balancers]
    set_if(record, "load_balancer_ips", [a for a in addresses if a])
    return record


def _ingress_rule(rule: Mapping[str, Any]) -> Record:
    record: Record = {}
    set_if(record, "host", rule.get("host"))
    paths = (rule.get("http") or {}).get("paths")
    if paths:
        record["paths"] = [_ingress_path(p) for p in paths]
    return record


def _ingress_path(path: Mapping[str, Any]) -> Record:
    record: Record = {}
    set_if(record, "path", path.get("path"))
    set_if(record, "path_type", path.get("pathType"))
    service = (path.get("backend") or {}).get("service")
    if service:
        set_if(record, "service_name", service.get("name"))
        # A named backend port has no number; upstream then omits service_port.
        set_if(record, "service_port", (service.get("port") or {}).get("number"))
    return record


def extract_network_policy(raw: RawObject) -> Record:
    record = base_record(raw, namespaced=True)
    spec: Mapping[str, Any] = raw.get("spec") or {}
    set_if(record, "pod_selector", match_labels(spec.get("podSelector")))
    set_if(record, "policy_types", list(spec.get("policyTypes") or ()))
    record["ingress_rules"] = len(spec.get("ingress") or ())
    record["egress_rules"] = len(spec.get("egress") or ())
    return record


# ----------------------------------------------------------------- schemas


class ServicePortSchema(LenientSchema):
    name = optional_string()
    protocol = optional_string()
    port = optional_integer()
    target_port = IntOrString(allow_none=True, data_key="targetPort")  # upstream camelCase


class ServiceSchema(NamespacedRecordSchema):
    service_type = optional_string()
    cluster_ip = optional_string()
    ports = nested_list(ServicePortSchema)
    selector = string_map()


class IngressPathSchema(LenientSchema):
    path = optional_string()
    path_type = optional_string()
    service_name = optional_string()
    service_port = optional_integer()


class IngressRuleSchema(LenientSchema):
    host = optional_string()
    paths = nested_list(IngressPathSchema)


class IngressTLSSchema(LenientSchema):
    hosts = string_list()
    secret_name = optional_string()


class IngressSchema(NamespacedRecordSchema):
    ingress_class_name = optional_string()
    rules = nested_list(IngressRuleSchema)
    tls = nested_list(IngressTLSSchema)
    load_balancer_ips = string_list()


class NetworkPolicySchema(NamespacedRecordSchema):
    pod_selector = string_map()
    policy_types = string_list()
    ingress_rules = optional_integer()
    egress_rules = optional_integer()


# ----------------------------------------------------------------- kinds


def _ingress_references(record: Mapping[str, Any]) -> list[Reference]:
    """The Services an Ingress routes to and the Secrets holding its TLS certificates."""
    references = [
        Reference("routes", "Service", path["service_name"])
        for rule in record.get("rules") or ()
        for path in rule.get("paths") or ()
        if path.get("service_name")
    ]
    references += [
        Reference("uses", "Secret", tls["secret_name"])
        for tls in record.get("tls") or ()
        if tls.get("secret_name")
    ]
    return references


SERVICE = ResourceKind(
    kind="Service",
    group="",
    version="v1",
    plural="services",
    namespaced=True,
    snapshot_key="services",
    extract=extract_service,
    relations=Relations(selector="selector", selects=("Pod",), routes=True),
    schema=ServiceSchema,
    display=DisplayHints(
        category="Network",
        columns=("name", "namespace", "service_type", "cluster_ip", CREATED),
    ),
)

INGRESS = ResourceKind(
    kind="Ingress",
    group="networking.k8s.io",
    version="v1",
    plural="ingresses",
    namespaced=True,
    snapshot_key="ingresses",
    extract=extract_ingress,
    relations=Relations(references=_ingress_references, referenced=("Service", "Secret")),
    schema=IngressSchema,
    display=DisplayHints(
        category="Network",
        columns=(
            "name",
            "namespace",
            Column("ingress_class_name", label="class"),
            Column("load_balancer_ips", "list", label="addresses"),
            CREATED,
        ),
    ),
)

NETWORK_POLICY = ResourceKind(
    kind="NetworkPolicy",
    group="networking.k8s.io",
    version="v1",
    plural="networkpolicies",
    namespaced=True,
    snapshot_key="network_policies",
    extract=extract_network_policy,
    relations=Relations(selector="pod_selector", selects=("Pod",)),
    schema=NetworkPolicySchema,
    display=DisplayHints(
        category="Network",
        columns=(
            "name",
            "namespace",
            Column("policy_types", "list"),
            Column("ingress_rules", "quantity"),
            Column("egress_rules", "quantity"),
        ),
    ),
)
