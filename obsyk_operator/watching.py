"""Per-kind LIST then WATCH, feeding the local cache and the change sink.

The kopf-style bottom layer: it talks to the API (through a :class:`WatchApi`),
keeps the :class:`~obsyk_operator.local_cache.KindCache` of one kind current and
tells a :class:`ChangeSink` what changed.  It knows nothing about the platform.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from obsyk_operator.backoff import Backoff
from obsyk_operator.changes import Change
from obsyk_operator.gc_pause import gc_paused
from obsyk_operator.kube_api import JsonObject, KubeApiError, ListPage, ResourceGone
from obsyk_operator.local_cache import CachedObject, KindCache, diff_listing

log = structlog.get_logger(__name__)


class WatchApi(Protocol):
    def list_page(
        self, path: str, *, limit: int, continue_token: str | None = None
    ) -> ListPage: ...

    def watch(self, path: str, *, resource_version: str) -> Iterable[JsonObject]: ...


class ChangeSink(Protocol):
    def publish(self, change: Change) -> None:
        """Called for every real change of a record (never for the initial LIST)."""

    def kind_synced(self, kind: str) -> None:
        """Called once per watcher, when its first complete LIST is in the cache.

        A kind watched namespace by namespace has one watcher per namespace.
        """


@dataclass(frozen=True, slots=True)
class NamespaceFilter:
    include: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()

    def allows(self, kind: str, record: dict[str, Any]) -> bool:
        if "namespace" in record:
            namespace = record["namespace"]
        elif kind == "Namespace":
            namespace = record.get("name", "")
        else:
            return True  # other cluster-scoped kinds are not in any namespace
        if namespace in self.exclude:
            return False
        return self.include is None or namespace in self.include


class KindWatcher:
    """Keeps one kind's cache in step with the API server until ``stop`` is set.

    ``namespace``: this watcher LISTs and WATCHes only that namespace (``path``
    is the namespace's collection), and its re-LIST can only repair that
    namespace's part of the cache.
    """

    def __init__(
        self,
        *,
        kind: str,
        path: str,
        api: WatchApi,
        extract: Callable[[JsonObject], dict[str, Any]],
        cache: KindCache,
        sink: ChangeSink,
        stop: threading.Event,
        namespaces: NamespaceFilter | None = None,
        namespace: str | None = None,
        page_size: int = 500,
        backoff: Backoff | None = None,
    ) -> None:
        self.kind = kind
        self.path = path
        self.api = api
        self.extract = extract
        self.cache = cache
        self.sink = sink
        self.stop = stop
        self.namespaces = namespaces or NamespaceFilter()
        self.namespace = namespace
        self.page_size = page_size
        self.backoff = backoff or Backoff()
        self.synced = False
        self.relists = 0
        self._current_watch: Any = None

    # ------------------------------------------------------------ loop

    def run(self) -> None:
        resource_version: str | None = None
        while not self.stop.is_set():
            try:
                if resource_version is None:
                    resource_version = self.relist()
                resource_version = self.watch_from(resource_version)
                self.backoff.reset()
            except ResourceGone as exc:
                # Our resourceVersion fell out of the server's history: whatever happened
                # meanwhile is only found by listing again and diffing.
                log.info(
                    "watch expired, re-listing", kind=self.kind, path=self.path, reason=exc.message
                )
                resource_version = None
            except KubeApiError as exc:
                delay = self.backoff.next_delay()
                log.warning(
                    "kubernetes api error",
                    kind=self.kind,
                    path=self.path,
                    error=str(exc),
                    retry_in=delay,
                )
                self.stop.wait(delay)
            except Exception:  # a bug must not silently end the watch of a kind
                delay = self.backoff.next_delay()
                log.exception("watcher failed", kind=self.kind, path=self.path, retry_in=delay)
                self.stop.wait(delay)

    def interrupt(self) -> None:
        """Unblock a watch waiting for data (on shutdown)."""
        current = self._current_watch
        if current is not None and hasattr(current, "close"):
            current.close()

    # ------------------------------------------------------------ LIST

    def relist(self) -> str:
        """LIST every page, diff against the cache, publish the differences; return the list RV."""
        listed: dict[str, CachedObject] = {}
        continue_token: str | None = None
        resource_version = ""
        while True:
            page_version, continue_token = self._list_page(continue_token, listed)
            resource_version = resource_version or page_version
            if not continue_token:
                break
        self.relists += 1
        with self.cache.lock:
            if self.synced:
                changes = diff_listing(self.cache, listed, namespace=self.namespace)
                for change in changes:
                    self.sink.publish(change)
            else:
                # A first LIST publishes nothing, so it skips the diff, which would
                # decode every record into a change only to drop it.
                changes = []
                for obj in listed.values():
                    self.cache.put(obj)
        if not self.synced:
            self.synced = True
            self.sink.kind_synced(self.kind)
        elif changes:
            log.info("re-list repaired changes", kind=self.kind, changes=len(changes))
        return resource_version

    def _list_page(
        self, continue_token: str | None, listed: dict[str, CachedObject]
    ) -> tuple[str, str | None]:
        """Fetch one page into ``listed``; return its resourceVersion and continue token.

        The raw page is local to this call, so it is freed before the next page is
        fetched: a LIST holds at most one page of raw objects at a time.
        """
        with gc_paused():
            page = self.api.list_page(
                self.path, limit=self.page_size, continue_token=continue_token
            )
            for raw in page.items:
                obj = self._extract(raw)
                if obj is not None:
                    listed[obj.uid] = obj
            return page.resource_version, page.continue_token

    # ------------------------------------------------------------ WATCH

    def watch_from(self, resource_version: str) -> str:
        """Apply watch events until the stream ends; return the last resourceVersion seen."""
        stream = self.api.watch(self.path, resource_version=resource_version)
        self._current_watch = stream
        try:
            for event in stream:
                if self.stop.is_set():
                    break
                obj = event.get("object") or {}
                rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
                self.apply(str(event.get("type", "")), obj)
                resource_version = rv or resource_version
        finally:
            self._current_watch = None
        return resource_version

    def apply(self, event_type: str, raw: JsonObject) -> None:
        if event_type == "BOOKMARK":
            return
        obj = self._extract(raw)
        if obj is None:
            return
        with self.cache.lock:
            known = self.cache.get(obj.uid)
            if event_type == "DELETED":
                if self.cache.remove(obj.uid) is not None:
                    self.sink.publish(
                        Change(
                            kind=self.kind,
                            type="deleted",
                            uid=obj.uid,
                            name=obj.name,
                            namespace=obj.namespace,
                            record=None,
                            resource_version=obj.resource_version,
                        )
                    )
                return
            self.cache.put(obj)
            if known is not None and known.content_hash == obj.content_hash:
                return  # a change the record does not show (status heartbeat, managedFields)
            self.sink.publish(
                Change(
                    kind=self.kind,
                    type="added" if known is None else "modified",
                    uid=obj.uid,
                    name=obj.name,
                    namespace=obj.namespace,
                    record=obj.record,
                    resource_version=obj.resource_version,
                )
            )

    def _extract(self, raw: JsonObject) -> CachedObject | None:
        meta = raw.get("metadata") or {}
        try:
            record = self.extract(raw)
        except Exception:
            log.exception("cannot extract object", kind=self.kind, name=meta.get("name"))
            return None
        if not record.get("uid") or not self.namespaces.allows(self.kind, record):
            return None
        return self.cache.encode(record, resource_version=meta.get("resourceVersion"))
