"""Redis cache (``redis://`` and ``rediss://``), shared by every platform process.

URL: any URL ``redis.Redis.from_url`` accepts, plus an optional ``prefix``
query parameter prepended to every key, so several deployments (or parallel
test runs) can share one Redis without seeing each other's keys::

    redis://redis:6379/0?prefix=obsyk:prod:

``redis`` is imported inside the factory: the operator loads every plugin and
must not pay for (or need) the Redis client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from obsyk_core.cache import Cache
from obsyk_core.plugins import hookimpl
from obsyk_core.registries import CacheRegistry

if TYPE_CHECKING:
    import redis


class RedisCache(Cache):
    def __init__(self, client: redis.Redis, *, prefix: str = "") -> None:
        self._client = client
        self._prefix = prefix

    def add(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        # SET NX EX is one atomic command: exactly one concurrent caller wins.
        return bool(self._client.set(self._key(key), value, ex=ttl_seconds, nx=True))

    def get(self, key: str) -> bytes | None:
        value = self._client.get(self._key(key))
        if value is None:
            return None
        # The client is built without decode_responses, so values are bytes.
        return value if isinstance(value, bytes) else str(value).encode()

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        self._client.set(self._key(key), value, ex=ttl_seconds)

    def delete(self, key: str) -> None:
        self._client.delete(self._key(key))

    def incr(self, key: str, ttl_seconds: int) -> int:
        # MULTI/EXEC: create the counter with its expiry if absent, then count; a
        # crash between the two can never leave a counter that lives forever.
        pipe = self._client.pipeline(transaction=True)
        full_key = self._key(key)
        pipe.set(full_key, 0, ex=ttl_seconds, nx=True)
        pipe.incr(full_key)
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
    import redis

    client_url, prefix = split_prefix(url)
    return RedisCache(redis.Redis.from_url(client_url), prefix=prefix)


@hookimpl(trylast=True)
def obsyk_register_caches(registry: CacheRegistry) -> None:
    registry.register("redis", open_redis_cache)
    registry.register("rediss", open_redis_cache)
