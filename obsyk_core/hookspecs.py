"""Every hook Obsyk calls, grouped by lifecycle.  This file is the hooks reference.

Hooks are for discovery and configuration: the hot paths call the objects the
hooks registered, never ``pm.hook``.  Implement a hook with
:data:`obsyk_core.plugins.hookimpl`; built-in plugins mark theirs
``trylast=True``, which only orders the calls: registries refuse a second
registration of a name, so a plugin replaces a built-in's kind or backend by
disabling the built-in (``OBSYK_DISABLED_PLUGINS``) and registering its own.
Hook wrappers (``wrapper=True``) wrap each plugin's call of a hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from obsyk_core.ingest import ResourceChange
    from obsyk_core.kinds import KindRegistry
    from obsyk_core.registries import CacheRegistry, IdentityProviderRegistry, StorageRegistry

PROJECT_NAME = "obsyk"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# ----------------------------------------------------------------- start-up: discovery


@hookspec
def obsyk_register_kinds(registry: KindRegistry) -> None:
    """Add resource kinds with ``registry.register(ResourceKind(...))``.

    Called once when the kind registry is first needed, by the operator (to
    know what to watch and how to extract it) and by the platform (to validate
    snapshot arrays and events).  Registering a kind name or snapshot key that
    another plugin registered fails start-up, naming both plugins.

    Example::

        @hookimpl
        def obsyk_register_kinds(registry):
            registry.register(CERTIFICATE)
    """


@hookspec
def obsyk_register_storage(registry: StorageRegistry) -> None:
    """Add storage backends with ``registry.register(scheme, factory)``.

    ``factory(url) -> Storage`` is called with the configured
    ``OBSYK_DATABASE_URL`` whose scheme matches.  Import heavy dependencies
    inside the factory, not at module level, so the operator stays light.

    Example::

        @hookimpl
        def obsyk_register_storage(registry):
            registry.register("cockroachdb", open_cockroach_storage)
    """


@hookspec
def obsyk_register_caches(registry: CacheRegistry) -> None:
    """Add cache backends with ``registry.register(scheme, factory)``.

    ``factory(url) -> Cache`` is called with ``OBSYK_REDIS_URL`` (or
    ``memory://`` in the embedded default).

    Example::

        @hookimpl
        def obsyk_register_caches(registry):
            registry.register("memcached", MemcachedCache)
    """


@hookspec
def obsyk_register_identity_providers(registry: IdentityProviderRegistry) -> None:
    """Add sign-in providers with ``registry.register(name, factory)``.

    ``factory(settings: obsyk_core.identity.ProviderSettings)`` answers a
    provider (``RedirectProvider`` or ``FormProvider``), or None when it is not
    configured; the app signs people in with the first configured one.

    Example::

        @hookimpl
        def obsyk_register_identity_providers(registry):
            registry.register("dev", lambda settings: DevSignIn() if settings.dev_sign_in else None)
    """


# ----------------------------------------------------------------- runtime: notification


@hookspec
def obsyk_resource_changed(change: ResourceChange) -> None:
    """Called after a resource change is committed (never before, never for a no-op).

    Runs in a background job, one call per change, so a slow or failing
    implementation never blocks ingestion; exceptions are logged and ignored.
    Use it for webhooks and audit sinks.

    Example::

        @hookimpl
        def obsyk_resource_changed(change):
            if change.kind == "Secret":
                audit_log.info("secret %s/%s %s", change.namespace, change.name, change.change)
    """
