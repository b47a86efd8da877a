"""A policy scan of the rendered objects: nothing privileged, root, writable, unlimited or almighty.

Explicit checks of the rules that matter most, each one a reviewer would ask for,
a failure naming the object and the rule; ``nox -s policy`` (in CI) also runs
checkov over the same rendered objects, its exceptions in deploy/checkov.yaml
and in ``checkov.io/skip`` annotations.  Accepted exceptions are
listed in :data:`EXCEPTIONS` with their reason, and each must still be needed.
"""

from __future__ import annotations

from typing import Any

import pytest
from rendered import TREES, pod_specs, render

#: (tree, object, rule) -> why it is accepted.
EXCEPTIONS: dict[tuple[str, str, str], str] = {
    (
        "operator",
        "ClusterRole/obsyk-operator",
        "reads-secrets",
    ): "The inventory lists Secrets by name and type; the operator's extractor drops"
    " every value before anything leaves the cluster (docs/explanation/security.md).",
    (
        "operator",
        "Deployment/obsyk-operator",
        "mounts-api-token",
    ): "The operator watches the Kubernetes API, so it needs its ServiceAccount token.",
}


def _violations(tree: str) -> set[tuple[str, str]]:
    objects = render(tree)
    found: set[tuple[str, str]] = set()
    for where, pod in pod_specs(objects):
        found |= {(where, rule) for rule in _pod_violations(pod)}
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        found |= {(where, rule) for rule in _rbac_violations(obj)}
    return found


def _pod_violations(pod: dict[str, Any]) -> set[str]:
    rules = set()
    pod_security = pod.get("securityContext", {})
    if pod_security.get("runAsNonRoot") is not True or pod_security.get("runAsUser", 1) == 0:
        rules.add("may-run-as-root")
    if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        rules.add("no-seccomp")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        rules.add("host-namespaces")
    if any("hostPath" in volume for volume in pod.get("volumes", [])):
        rules.add("host-path")
    if pod.get("automountServiceAccountToken") is not False:
        rules.add("mounts-api-token")
    for container in pod.get("initContainers", []) + pod["containers"]:
        security = container.get("securityContext", {})
        if security.get("privileged", False):
            rules.add("privileged")
        if security.get("allowPrivilegeEscalation") is not False:
            rules.add("privilege-escalation")
        if security.get("readOnlyRootFilesystem") is not True:
            rules.add("writable-root")
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            rules.add("capabilities-kept")
        if security.get("capabilities", {}).get("add"):
            rules.add("capabilities-added")
        if security.get("runAsUser") == 0:
            rules.add("may-run-as-root")
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            if set(resources.get(bound, {})) < {"cpu", "memory"}:
                rules.add("unlimited")
        image = container["image"]
        if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
            rules.add("unpinned-image")
    return rules


def _rbac_violations(obj: dict[str, Any]) -> set[str]:
    rules = set()
    binding = obj["kind"] in ("ClusterRoleBinding", "RoleBinding")
    if binding and obj["roleRef"]["name"] in ("cluster-admin", "admin", "edit"):
        rules.add("cluster-admin")
    if obj["kind"] in ("ClusterRole", "Role"):
        for rule in obj.get("rules", []):
            if "*" in rule.get("verbs", []) + rule.get("resources", []) + rule.get("apiGroups", []):
                rules.add("wildcard-rbac")
            writes = {"create", "update", "patch", "delete", "deletecollection", "escalate", "bind"}
            if obj["kind"] == "ClusterRole" and writes & set(rule["verbs"]):
                rules.add("cluster-wide-writes")
            if "secrets" in rule.get("resources", []) and obj["kind"] == "ClusterRole":
                rules.add("reads-secrets")
    return rules


@pytest.mark.parametrize("tree", sorted(TREES))
def test_no_object_breaks_the_policy(tree: str) -> None:
    accepted = {(where, rule) for (t, where, rule) in EXCEPTIONS if t == tree}
    assert _violations(tree) - accepted == set()


def test_every_exception_is_still_needed() -> None:
    for tree, where, rule in EXCEPTIONS:
        assert (where, rule) in _violations(tree), (tree, where, rule)


def test_the_scan_catches_what_it_claims_to() -> None:
    pod = {
        "hostNetwork": True,
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
        "containers": [
            {
                "name": "bad",
                "image": "busybox",
                "securityContext": {"privileged": True, "capabilities": {"add": ["NET_ADMIN"]}},
            }
        ],
    }
    assert _pod_violations(pod) == {
        "may-run-as-root",
        "no-seccomp",
        "host-namespaces",
        "host-path",
        "mounts-api-token",
        "privileged",
        "privilege-escalation",
        "writable-root",
        "capabilities-kept",
        "capabilities-added",
        "unlimited",
        "unpinned-image",
    }
    binding = {"kind": "ClusterRoleBinding", "roleRef": {"name": "cluster-admin"}}
    assert _rbac_violations(binding) == {"cluster-admin"}
    everything = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
    role = {"kind": "ClusterRole", "rules": [everything]}
    assert _rbac_violations(role) == {"wildcard-rbac"}
