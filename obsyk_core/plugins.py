"""Build the plugin manager and talk to it through a typed facade.

There is no global manager: every program (operator, platform, a test) calls
:func:`build_plugin_manager` and keeps the :class:`Plugins` it returns.
Built-in plugins are ordinary entry points of the ``obsyk`` group (see
``pyproject.toml``) whose implementations are ``trylast``, so an external
plugin has exactly the powers a built-in has.  Registries refuse a second
registration of a name, so replacing a built-in means disabling it
(``OBSYK_DISABLED_PLUGINS``) and registering your own.

Every hook call goes through pluggy's own callers, so hook wrappers,
``tryfirst``/``trylast`` ordering, tracing and call monitoring apply.  The
facade calls a hook one plugin at a time (pluggy's ``subset_hook_caller``):
a registry then knows whose registrations it sees, and a failing
``obsyk_resource_changed`` implementation stops no other.  A wrapper of a
hook therefore wraps each plugin's call.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from types import ModuleType
from typing import TypeVar

import pluggy

from obsyk_core import hookspecs
from obsyk_core.ingest import ResourceChange
from obsyk_core.kinds import KindRegistry
from obsyk_core.registries import (
    CacheRegistry,
    IdentityProviderRegistry,
    PluginAttribution,
    StorageRegistry,
)

ENTRY_POINT_GROUP = "obsyk"
DISABLED_ENV = "OBSYK_DISABLED_PLUGINS"

hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT_NAME)
log = logging.getLogger(__name__)

R = TypeVar("R", bound=PluginAttribution)


def build_plugin_manager(
    *,
    plugins: Iterable[object] = (),
    disabled: Iterable[str] | None = None,
    load_entry_points: bool = True,
    distribution: str | None = None,
    extra_hookspecs: Sequence[ModuleType | type] = (),
) -> Plugins:
    """Make a plugin manager with the installed plugins and return its facade.

    ``plugins`` are extra plugin objects (modules or instances) registered in
    addition to the entry points; ``distribution`` limits the entry points to
    that installed distribution's (``"obsyk"``: exactly the built-ins, whatever
    else is installed); ``disabled`` names plugins to block
    (default: the comma-separated ``OBSYK_DISABLED_PLUGINS``);
    ``extra_hookspecs`` lets an application (the reference app's Flask hooks)
    add its own specs.  Implementations of hooks nobody specified fail here.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for spec in extra_hookspecs:
        pm.add_hookspecs(spec)
    if disabled is None:
        disabled = [n.strip() for n in os.environ.get(DISABLED_ENV, "").split(",")]
    for name in disabled:
        if name:
            pm.set_blocked(name)
    if load_entry_points and distribution is not None:
        for entry_point in importlib.metadata.distribution(distribution).entry_points:
            # As pluggy's own loader does: by entry-point name, unless blocked.
            if entry_point.group == ENTRY_POINT_GROUP and not pm.is_blocked(entry_point.name):
                pm.register(entry_point.load(), name=entry_point.name)
    elif load_entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in plugins:
        pm.register(plugin, name=_readable_name(plugin))
    pm.check_pending()
    return Plugins(pm)


def _readable_name(plugin: object) -> str | None:
    """A module keeps its own name; an instance gets its class's, so errors say whose it is.

    (pluggy would name an instance by ``id()`` alone.)  ``None`` lets pluggy decide.
    """
    if isinstance(plugin, ModuleType):
        return None
    cls = type(plugin)
    return f"{cls.__module__}.{cls.__qualname__}@{id(plugin):x}"


class Plugins:
    """Typed access to the hooks; the registries are built once and cached."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    @functools.cached_property
    def kinds(self) -> KindRegistry:
        return self._fill(KindRegistry(), "obsyk_register_kinds")

    @functools.cached_property
    def storage(self) -> StorageRegistry:
        return self._fill(StorageRegistry(), "obsyk_register_storage")

    @functools.cached_property
    def caches(self) -> CacheRegistry:
        return self._fill(CacheRegistry(), "obsyk_register_caches")

    @functools.cached_property
    def identity_providers(self) -> IdentityProviderRegistry:
        return self._fill(IdentityProviderRegistry(), "obsyk_register_identity_providers")

    def notify_resource_changed(self, change: ResourceChange) -> None:
        """Tell every ``obsyk_resource_changed`` implementation; one failing stops no other."""
        for plugin_name, call in self._each_plugin("obsyk_resource_changed"):
            try:
                call(change=change)
            except Exception:
                log.exception("plugin %s failed in obsyk_resource_changed", plugin_name)

    def implements(self, hook_name: str) -> bool:
        """Whether any plugin implements ``hook_name`` (wrappers alone do not count)."""
        return any(True for _ in self._each_plugin(hook_name))

    def plugin_names(self) -> list[str]:
        """Names of the registered plugins (blocked ones are listed by pluggy as ``None``)."""
        return sorted(name for name, plugin in self.pm.list_name_plugin() if plugin is not None)

    def _fill(self, registry: R, hook_name: str) -> R:
        """Call the registration hook plugin by plugin, each inside ``registering_for``."""
        for plugin_name, call in self._each_plugin(hook_name):
            with registry.registering_for(plugin_name):
                call(registry=registry)
        return registry

    def _each_plugin(self, hook_name: str) -> Iterator[tuple[str, pluggy.HookCaller]]:
        """Each plugin implementing ``hook_name``, in pluggy's call order, with its own caller.

        The caller is pluggy's ``subset_hook_caller`` without the other
        implementing plugins: this plugin's implementation runs inside every
        wrapper of the hook, traced and monitored as any pluggy call.
        """
        implementing = {
            impl.plugin_name: impl.plugin
            for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls())
            if not (impl.wrapper or impl.hookwrapper)
        }
        for name, plugin in implementing.items():
            others = [other for other in implementing.values() if other is not plugin]
            yield name, self.pm.subset_hook_caller(hook_name, remove_plugins=others)
