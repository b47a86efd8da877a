"""Built-in plugin: the 20 core Kubernetes resource kinds of CONTRACT.md section 4.

Loaded through the ``core_kinds`` entry point of the ``obsyk`` group; its
hook is ``trylast`` like every built-in's.  A kind may be declared only once,
so a plugin that wants its own version of a core kind blocks this plugin
(``OBSYK_DISABLED_PLUGINS=core_kinds``) and registers :data:`CORE_KINDS`
minus the one it replaces, plus its own.

Each category lives in its own module, holding that category's extractors
(raw Kubernetes JSON -> wire record, applying the security rules), record
schemas and :class:`~obsyk_core.kinds.ResourceKind` declarations:
:mod:`.cluster`, :mod:`.pods` and :mod:`.workloads`, :mod:`.network`,
:mod:`.config`, :mod:`.storage`, :mod:`.rbac`, :mod:`.events`.
"""

from __future__ import annotations

import functools

from obsyk_core.kinds import KindRegistry, ResourceKind
from obsyk_core.plugins import hookimpl
from obsyk_plugins.core_kinds.cluster import NAMESPACE, NODE
from obsyk_plugins.core_kinds.config import CONFIGMAP, SECRET
from obsyk_plugins.core_kinds.events import EVENT
from obsyk_plugins.core_kinds.network import INGRESS, NETWORK_POLICY, SERVICE
from obsyk_plugins.core_kinds.pods import POD
from obsyk_plugins.core_kinds.rbac import (
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    ROLE,
    ROLE_BINDING,
    SERVICE_ACCOUNT,
)
from obsyk_plugins.core_kinds.record_schema import record_checks
from obsyk_plugins.core_kinds.storage import PERSISTENT_VOLUME_CLAIM
from obsyk_plugins.core_kinds.workloads import CRONJOB, DAEMONSET, DEPLOYMENT, JOB, STATEFULSET

#: In the order of the snapshot arrays of CONTRACT.md section 2.
CORE_KINDS: tuple[ResourceKind, ...] = (
    NAMESPACE,
    POD,
    SERVICE,
    NODE,
    DEPLOYMENT,
    STATEFULSET,
    DAEMONSET,
    JOB,
    CRONJOB,
    INGRESS,
    NETWORK_POLICY,
    CONFIGMAP,
    SECRET,
    PERSISTENT_VOLUME_CLAIM,
    SERVICE_ACCOUNT,
    ROLE,
    CLUSTER_ROLE,
    ROLE_BINDING,
    CLUSTER_ROLE_BINDING,
    EVENT,
)


@functools.cache
def accelerated_kinds() -> tuple[ResourceKind, ...]:
    """:data:`CORE_KINDS` with their compiled record checks (compiled once per process).

    Validation is most of a snapshot's or a batch's ingestion time; the checks
    make it several times faster (bench/ingest_tricks.py, bench/RESULTS.md).
    """
    checks = record_checks()
    return tuple(checks.accelerate(kind) for kind in CORE_KINDS)


@hookimpl(trylast=True)
def obsyk_register_kinds(registry: KindRegistry) -> None:
    for kind in accelerated_kinds():
        registry.register(kind)
