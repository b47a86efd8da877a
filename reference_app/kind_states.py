"""What each cluster's operator watches and what it had to skip (the heartbeat's ``kinds``).

A heartbeat may carry ``{"Certificate": "not_served", "Secret": "forbidden",
"Pod": "watched"}`` (CONTRACT.md, "kind status").  It is the operator's
current view, sent every minute, so it is kept in the cache, not the
database: with a lifetime of the disconnection threshold, a cluster whose
operator went quiet stops showing a stale view with its status.  A cache
outage only hides it: it is information, and must never fail a heartbeat.
"""

from __future__ import annotations

import logging

import orjson

from obsyk_core.cache import Cache, CacheError

log = logging.getLogger(__name__)


def _key(cluster_id: str) -> str:
    return f"kind-states:{cluster_id}"


def remember_kind_states(
    cache: Cache, cluster_id: str, states: dict[str, str], *, ttl_seconds: int
) -> None:
    try:
        cache.set(_key(cluster_id), orjson.dumps(states), ttl_seconds)
    except CacheError as error:
        log.warning("cannot keep cluster %s's kind states: %s", cluster_id, error)


def kind_states_of(cache: Cache, cluster_id: str) -> dict[str, str] | None:
    """The states the cluster's operator last reported; ``None``: none reported lately."""
    try:
        stored = cache.get(_key(cluster_id))
    except CacheError as error:
        log.warning("cannot read cluster %s's kind states: %s", cluster_id, error)
        return None
    return None if stored is None else dict(orjson.loads(stored))
