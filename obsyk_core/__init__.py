"""Obsyk core: resource kinds, ingestion semantics, storage/cache interfaces, plugin hooks.

Imports only the standard library, pluggy, marshmallow and orjson, so it can be
embedded anywhere (and the operator can use it without any web stack).
"""

from obsyk_core.kinds import DisplayHints, KindRegistry, ResourceKind
from obsyk_core.plugins import Plugins, build_plugin_manager, hookimpl

__all__ = [
    "DisplayHints",
    "KindRegistry",
    "Plugins",
    "ResourceKind",
    "build_plugin_manager",
    "hookimpl",
]
__version__ = "0.1.0"
