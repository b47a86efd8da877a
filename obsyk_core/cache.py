"""The cache interface: small, expiring, shared state (replay cache, rate limits).

Backends are plugins (``obsyk_register_caches``) chosen by URL scheme; the
built-ins are Redis (``redis://``) and in-process memory (``memory://``).
"""

from __future__ import annotations

import abc


class CacheError(RuntimeError):
    """The backend cannot be reached right now (connection lost, timeout): retry later.

    Backends raise it for transient failures only; the platform answers 503
    with ``Retry-After``, as for :class:`~obsyk_core.storage.StorageError`.
    """


class Cache(abc.ABC):
    @abc.abstractmethod
    def add(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        """Store ``value`` only if ``key`` is absent; True when it was stored.

        Atomic across processes sharing the backend: this is what makes a
        replayed assertion ``jti`` detectable.
        """

    @abc.abstractmethod
    def get(self, key: str) -> bytes | None: ...

    @abc.abstractmethod
    def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None: ...

    @abc.abstractmethod
    def incr(self, key: str, ttl_seconds: int) -> int:
        """Increment a counter, creating it with ``ttl_seconds`` when absent; the new value."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""
