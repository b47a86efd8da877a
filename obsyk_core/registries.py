"""Registries the plugin hooks fill: storage and cache backends by URL scheme, identity providers.

Like :class:`~obsyk_core.kinds.KindRegistry` they refuse a second registration
under the same name at start-up, naming both plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from obsyk_core.cache import Cache
from obsyk_core.storage import Storage

T = TypeVar("T")


class DuplicateRegistrationError(RuntimeError):
    """Two plugins registered the same scheme or name."""


class UnknownBackendError(LookupError):
    """No installed plugin handles this URL scheme or name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown backend"


class PluginAttribution:
    """Knows which plugin is registering, so each registration (and a clash) names it.

    The plugin facade calls a registration hook one plugin at a time inside
    :meth:`registering_for`; a registry filled by hand (a test, an embedding
    service) may do the same, or leave registrations unattributed.
    """

    def __init__(self) -> None:
        self.registering_plugin = ""

    @contextmanager
    def registering_for(self, plugin_name: str) -> Iterator[None]:
        """Attribute the registrations made inside the ``with`` block to ``plugin_name``."""
        previous, self.registering_plugin = self.registering_plugin, plugin_name
        try:
            yield
        finally:
            self.registering_plugin = previous


@dataclass(frozen=True, slots=True)
class Registration(Generic[T]):
    name: str
    factory: T
    plugin: str


class _NamedRegistry(PluginAttribution, Generic[T]):
    """Name -> factory, remembering which plugin registered what."""

    what = "name"

    def __init__(self) -> None:
        super().__init__()
        self._entries: dict[str, Registration[T]] = {}

    def _add(self, name: str, factory: T) -> None:
        existing = self._entries.get(name)
        if existing is not None:
            raise DuplicateRegistrationError(
                f"{self.what} {name!r} is registered by both plugin {existing.plugin!r} "
                f"and plugin {self.registering_plugin!r}; disable one with OBSYK_DISABLED_PLUGINS"
            )
        self._entries[name] = Registration(name, factory, self.registering_plugin)

    def _lookup(self, name: str) -> Registration[T]:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownBackendError(
                f"no installed plugin provides {self.what} {name!r} (known: {known})"
            ) from None

    def __iter__(self) -> Iterator[Registration[T]]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def url_scheme(url: str) -> str:
    """``postgresql+psycopg://...`` -> ``postgresql+psycopg``; ``memory://`` -> ``memory``."""
    scheme = urlsplit(url).scheme
    if not scheme:
        raise UnknownBackendError(f"{url!r} is not a URL (expected scheme://...)")
    return scheme.lower()


B = TypeVar("B")


class _SchemeRegistry(_NamedRegistry[Callable[[str], B]]):
    """Backends by URL scheme: ``factory(url)`` opens one."""

    def register(self, scheme: str, factory: Callable[[str], B]) -> None:
        self._add(scheme.lower(), factory)

    def open(self, url: str) -> B:
        return self._lookup(url_scheme(url)).factory(url)


class StorageRegistry(_SchemeRegistry[Storage]):
    """Storage backends by URL scheme (``sqlite``, ``postgresql``, ``memory``...)."""

    what = "storage URL scheme"


class CacheRegistry(_SchemeRegistry[Cache]):
    """Cache backends by URL scheme (``redis``, ``memory``...)."""

    what = "cache URL scheme"


class IdentityProviderRegistry(_NamedRegistry[Any]):
    """Sign-in providers by name (``workos``, ``dev``...); the app defines their interface."""

    what = "identity provider"

    def register(self, name: str, provider: Any) -> None:
        self._add(name, provider)

    def get(self, name: str) -> Any:
        return self._lookup(name).factory

    def names(self) -> list[str]:
        return sorted(self._entries)
