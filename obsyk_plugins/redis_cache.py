"""Redis cache (``redis://`` and ``rediss://``), shared by every platform process.

URL: any URL ``redis.Redis.from_url`` accepts, plus an optional ``prefix``
query parameter prepended to every key, so several deployments (or parallel
test runs) can share one Redis without seeing each other's keys::

    redis://redis:6379/0?prefix=obsyk:prod:

Every client the platform makes (:func:`redis_client`: this cache, the job
queue, the scheduler) has timeouts, so a Redis that stops answering fails a
command instead of hanging the request or thread that sent it
(:data:`CLIENT_DEFAULTS`; a URL parameter of the same name, say
``?socket_timeout=2``, wins).  Connection failures and timeouts surface from
the cache as :class:`~obsyk_core.cache.CacheError`.

``redis`` is imported inside the factory: the operator loads every plugin and
must not pay for (or need) the Redis client.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from obsyk_core.cache import Cache, CacheError
from obsyk_core.plugins import hookimpl
from obsyk_core.registries import CacheRegistry

if TYPE_CHECKING:
    import redis


#: Seconds a command (or a connection attempt) may wait for Redis before it fails.
TIMEOUT_SECONDS = 5.0

#: Client settings used unless the URL gives its own (``?socket_timeout=2``).
CLIENT_DEFAULTS: dict[str, Any] = {
    "socket_connect_timeout": TIMEOUT_SECONDS,
    "socket_timeout": TIMEOUT_SECONDS,
    # Keepalive probes find a peer that vanished without closing (a partition)
    # on a connection that is only waiting: ~60 s instead of the kernel's 2 h.
    "socket_keepalive": True,
    "socket_keepalive_options": {
        getattr(socket, option): value
        for option, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3))
        if hasattr(socket, option)  # Linux names; other systems keep their defaults
    },
}


def client_options() -> dict[str, Any]:
    """Keyword arguments for ``redis.Redis.from_url``: :data:`CLIENT_DEFAULTS` and the retry rule.

    A failed command is retried once, on a fresh connection, when the
    connection broke (a pooled connection to a Redis that restarted), never
    when it timed out: a Redis that does not answer fails after one
    ``socket_timeout``, not after redis-py's default ten retries of it.  For
    every Redis client of the platform, the library-made ones (rate limits)
    included; options in the URL win.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    retry = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
    return {**CLIENT_DEFAULTS, "retry": retry}


def redis_client(url: str) -> tuple[redis.Redis, str]:
    """A client for a Redis URL with :func:`client_options`, and the URL's key ``prefix``."""
    import redis

    client_url, prefix = split_prefix(url)
    return redis.Redis.from_url(client_url, **client_options()), prefix


class RedisCache(Cache):
    def __init__(self, client: redis.Redis, *, prefix: str = "") -> None:
        import redis

        self._client = client
        self._prefix = prefix
        self._unavailable = (redis.ConnectionError, redis.TimeoutError)

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """Connection failures and timeouts as the interface's :class:`CacheError`."""
        try:
            yield
        except self._unavailable as error:
            raise CacheError(f"Redis unavailable: {error}") from error

    def add(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        # SET NX EX is one atomic command: exactly one concurrent caller wins.
        with self._reachable():
            return bool(self._client.set(self._key(key), value, ex=ttl_seconds, nx=True))

    def get(self, key: str) -> bytes | None:
        with self._reachable():
            value = self._client.get(self._key(key))
        if value is None:
            return None
        # The client is built without decode_responses, so values are bytes.
        return value if isinstance(value, bytes) else str(value).encode()

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        with self._reachable():
            self._client.set(self._key(key), value, ex=ttl_seconds)

    def delete(self, key: str) -> None:
        with self._reachable():
            self._client.delete(self._key(key))

    def incr(self, key: str, ttl_seconds: int) -> int:
        # MULTI/EXEC: create the counter with its expiry if absent, then count; a
        # crash between the two can never leave a counter that lives forever.
        pipe = self._client.pipeline(transaction=True)
        full_key = self._key(key)
        pipe.set(full_key, 0, ex=ttl_seconds, nx=True)
        pipe.incr(full_key)
        with self._reachable():
            _, value = pipe.execute()
        return int(value)

    def close(self) -> None:
        self._client.close()

    def _key(self, key: str) -> str:
        return self._prefix + key


def split_prefix(url: str) -> tuple[str, str]:
    """Take the ``prefix`` query parameter out of a Redis URL: ``(url_without_it, prefix)``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = "".join(value for name, value in query if name == "prefix")
    rest = urlencode([(name, value) for name, value in query if name != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


def open_redis_cache(url: str) -> RedisCache:
    client, prefix = redis_client(url)
    return RedisCache(client, prefix=prefix)


@hookimpl(trylast=True)
def obsyk_register_caches(registry: CacheRegistry) -> None:
    registry.register("redis", open_redis_cache)
    registry.register("rediss", open_redis_cache)
