"""Shipping: snapshots, batched events and heartbeats to the platform.

One :class:`Shipper` thread sends snapshots and events *in order*, so an event
taken from the queue can never overtake (or be overtaken by) a snapshot that
already holds a newer state.  A :class:`HeartbeatLoop` thread beats on its own
so the platform hears from us even while events wait out a backoff.  Neither
ever drops a pending change because the platform is down: failed batches go
back to the coalescing queue, snapshots are retried until accepted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from obsyk_operator.backoff import Backoff
from obsyk_operator.batch_rejection import refused_entries
from obsyk_operator.discovery import KindStates
from obsyk_operator.local_cache import LocalCache
from obsyk_operator.platform_client import PlatformRejected, StreamedBody
from obsyk_operator.platform_features import PlatformFeatures
from obsyk_operator.send_queue import CoalescingQueue, QueuedChange
from obsyk_operator.settings import ShippingSettings
from obsyk_operator.snapshot_body import Section, StreamedSnapshot, chunk_bodies
from obsyk_operator.tokens import PlatformUnavailable

log = structlog.get_logger(__name__)

EVENTS_PATH = "/api/v1/agent/events"
SNAPSHOT_PATH = "/api/v1/agent/snapshot"
HEARTBEAT_PATH = "/api/v1/agent/heartbeat"
#: Answers after which retrying the same body later can work (credential fixed, RBAC granted).
_RETRYABLE_REJECTIONS = (401, 403, 408, 409)


class Poster(Protocol):
    def post(self, path: str, body: dict[str, Any]) -> Any: ...

    def post_json(self, path: str, data: bytes | StreamedBody) -> Any: ...


class ShippingMetrics(Protocol):
    def sent(self, changes: int) -> None: ...

    def rejected(self, changes: int) -> None: ...

    def snapshot_sent(self) -> None: ...

    def heartbeat_ok(self) -> None: ...


class _NoMetrics:
    def sent(self, changes: int) -> None:
        pass

    def rejected(self, changes: int) -> None:
        pass

    def snapshot_sent(self) -> None:
        pass

    def heartbeat_ok(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class ClusterIdentity:
    cluster_uid: str
    cluster_name: str
    agent_version: str = "dev"
    #: The API server's ``gitVersion`` (``v1.30.2``); ``None`` when ``/version`` was unreadable.
    kubernetes_version: str | None = None


def snapshot_header(cluster: ClusterIdentity) -> dict[str, Any]:
    """The top-level fields every snapshot body (or chunk) starts with."""
    header: dict[str, Any] = {
        "cluster_uid": cluster.cluster_uid,
        "cluster_name": cluster.cluster_name,
        "agent_version": cluster.agent_version,
    }
    if cluster.kubernetes_version:
        header["kubernetes_version"] = cluster.kubernetes_version
    return header


class Shipper:
    """Sends the first snapshot once every kind is listed, then events, resyncs on demand."""

    def __init__(
        self,
        *,
        client: Poster,
        cache: LocalCache,
        snapshot_keys: dict[str, str],
        queue: CoalescingQueue,
        cluster: ClusterIdentity,
        settings: ShippingSettings,
        stop: threading.Event,
        may_ship: Callable[[], bool] = lambda: True,
        metrics: ShippingMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        features: PlatformFeatures | None = None,
        kind_states: KindStates | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        self.snapshot_keys = snapshot_keys  # kind name -> snapshot array key
        self.queue = queue
        self.cluster = cluster
        self.settings = settings
        self.stop = stop
        self.may_ship = may_ship
        self.metrics = metrics or _NoMetrics()
        self.clock = clock
        self.features = features or PlatformFeatures()
        #: Which kinds are carried and streamed (served, allowed, accepted); None: every kind.
        self.kind_states = kind_states
        self.backoff = Backoff(initial=settings.initial_backoff, maximum=settings.max_backoff)
        self.batches_supported = settings.use_batches
        self.event_extensions = settings.use_batches
        self._lock = threading.Lock()
        self._pending_snapshot: set[str] = set()
        self._ready = False
        self.last_snapshot_at: float | None = None
        self.snapshots_sent = 0

    # ------------------------------------------------------------ requests from other threads

    def request_snapshot(self, kinds: Iterable[str] | None = None) -> None:
        """Ask for a snapshot of ``kinds`` (default: all); unknown kind names are ignored."""
        wanted = set(self.snapshot_keys) if kinds is None else set(kinds) & set(self.snapshot_keys)
        with self._lock:
            self._pending_snapshot |= wanted
        self.queue.wake()

    def mark_ready(self) -> None:
        """Every kind has completed its initial LIST: the first snapshot can go."""
        with self._lock:
            self._ready = True
        self.request_snapshot()

    @property
    def snapshot_pending(self) -> bool:
        with self._lock:
            return bool(self._pending_snapshot)

    # ------------------------------------------------------------ loop

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if not self._ready or not self.may_ship():
                    self.stop.wait(0.1)
                    continue
                if self._resync_due():
                    self.request_snapshot()
                if self.snapshot_pending:
                    self.send_snapshot()
                elif self.queue.wait(0.2):
                    self.send_events(self.queue.take(self.settings.batch_size))
                self.backoff.reset()
            except PlatformUnavailable as exc:
                self._wait_after(exc)
            except PlatformRejected as exc:
                delay = self.backoff.next_delay()
                log.error("platform rejected a request", error=str(exc), retry_in=delay)
                self.stop.wait(delay)
            except Exception:
                delay = self.backoff.next_delay()
                log.exception("shipping failed", retry_in=delay)
                self.stop.wait(delay)

    def _wait_after(self, exc: PlatformUnavailable) -> None:
        delay = self.backoff.next_delay()
        if exc.retry_after is not None:
            delay = max(exc.retry_after, 0.0)
        log.warning("platform unavailable", error=str(exc), retry_in=round(delay, 2))
        self.stop.wait(delay)

    def _resync_due(self) -> bool:
        return (
            self.last_snapshot_at is not None
            and self.clock() - self.last_snapshot_at >= self.settings.resync_interval
        )

    # ------------------------------------------------------------ snapshot

    def send_snapshot(self) -> None:
        """Send the pending kinds as they are now: chunked if the platform speaks our
        extensions, else as one streamed body; memory stays about one chunk either way."""
        if self.features.extensions is None:
            self._ask_for_extensions()  # and which kinds the platform accepts
        with self._lock:
            pending = set(self._pending_snapshot)
        kinds = pending
        if self.kind_states is not None:
            # Forbidden kinds and kinds the platform does not accept are never carried.
            kinds = pending & self.kind_states.carried()
            if not kinds:
                with self._lock:
                    self._pending_snapshot -= pending
                return
        with self.cache.lock:  # one instant for every kind; the objects themselves are immutable
            sections = [
                Section(key, self.cache[kind].frozen())
                for kind, key in self.snapshot_keys.items()
                if kind in kinds
            ]
        header = snapshot_header(self.cluster)
        if self.features.extensions:
            bodies = self._send_chunks(header, sections)
        else:
            bodies = self._send_whole(header, sections)
        if bodies is None:
            return  # stays pending; a new leader or the next run sends it whole
        with self._lock:
            self._pending_snapshot -= pending
        self.last_snapshot_at = self.clock()
        self.snapshots_sent += 1
        self.metrics.snapshot_sent()
        log.info("snapshot sent", kinds=len(kinds), bodies=bodies)

    def _ask_for_extensions(self) -> None:
        """A heartbeat as upstream sends it; only its answer tells whether chunks are safe."""
        body = {
            "cluster_uid": self.cluster.cluster_uid,
            "agent_version": self.cluster.agent_version,
        }
        try:
            answer = self.client.post(HEARTBEAT_PATH, body)
        except PlatformRejected as exc:
            if exc.status in _RETRYABLE_REJECTIONS:
                raise
            answer = None  # no heartbeat endpoint that answers: surely no extensions either
        self.features.heartbeat_answered(answer)
        log.info("platform extensions", chunked_snapshots=bool(self.features.extensions))
        if self.kind_states is not None:
            self.request_snapshot(self.kind_states.accepted_by_platform(accepted_kinds(answer)))

    def _send_chunks(self, header: dict[str, Any], sections: list[Section]) -> int | None:
        sent = 0
        bodies = chunk_bodies(header, sections, chunk_bytes=self.settings.snapshot_chunk_bytes)
        for body in bodies:
            if self.stop.is_set() or not self.may_ship():
                return None
            try:
                self.client.post_json(SNAPSHOT_PATH, body)
            except PlatformRejected as exc:
                if sent or exc.status in _RETRYABLE_REJECTIONS:
                    raise
                log.warning(
                    "platform refused a snapshot chunk; sending one body", status=exc.status
                )
                self.features.chunks_refused()
                return self._send_whole(header, sections)
            sent += 1
        return sent

    def _send_whole(self, header: dict[str, Any], sections: list[Section]) -> int | None:
        if self.stop.is_set() or not self.may_ship():
            return None
        self.client.post_json(SNAPSHOT_PATH, StreamedSnapshot(header, sections))
        return 1

    # ------------------------------------------------------------ events

    def unsettled_kinds(self) -> set[str]:
        """Kinds the platform may not have as our cache has them: a change of them is
        queued or being sent, or a snapshot of them is pending or being sent."""
        with self._lock:
            pending = set(self._pending_snapshot)
        return pending | self.queue.unsettled_kinds()

    def send_events(self, batch: Sequence[QueuedChange]) -> None:
        """Send ``batch``; on failure put back what was not sent and raise."""
        try:
            self._send_events(batch)
        finally:
            self.queue.settle()

    def _send_events(self, batch: Sequence[QueuedChange]) -> None:
        if self.kind_states is not None:
            # Changes of a kind no longer watched (CRD removed, RBAC revoked) or that the
            # platform does not accept: its snapshot speaks for it, or nothing may.
            streamed = self.kind_states.streamed()
            batch = [item for item in batch if item.change.kind in streamed]
        if not batch:
            return
        if self.batches_supported:
            batch = self._send_as_batch(batch)
        for index, item in enumerate(batch):
            if self.stop.is_set() or not self.may_ship():
                self.queue.requeue(batch[index:])
                return
            try:
                self._post_single(item)
            except (PlatformUnavailable, PlatformRejected):
                self.queue.requeue(batch[index:])
                raise

    def _send_as_batch(self, batch: Sequence[QueuedChange]) -> Sequence[QueuedChange]:
        """Send ``batch`` as batches; return what is left to send one by one (usually nothing).

        Entries the platform names as invalid (``events.3.object.uid``) are refused for
        good, the rest goes again as a batch; only an answer that names no entry means
        the platform does not speak batches at all.
        """
        while batch:
            try:
                self._post_batch(batch)
                return ()
            except PlatformUnavailable:
                self.queue.requeue(batch)
                raise
            except PlatformRejected as exc:
                if exc.status in _RETRYABLE_REJECTIONS:
                    self.queue.requeue(batch)
                    raise
                refused = refused_entries(exc.body, len(batch))
                if not refused:
                    log.info(
                        "platform refused a batch; sending events one by one", status=exc.status
                    )
                    self.batches_supported = False
                    return batch
                # It validated each event of the batch: it speaks batches, only these are bad.
                self.features.batch_accepted()
                for index, problems in sorted(refused.items()):
                    self._refused_for_good(batch[index], exc.status, "; ".join(problems))
            batch = [item for index, item in enumerate(batch) if index not in refused]
            if batch and (self.stop.is_set() or not self.may_ship()):
                self.queue.requeue(batch)
                return ()
        return ()

    def _post_batch(self, batch: Sequence[QueuedChange]) -> None:
        events = [self._event(item, extensions=True) for item in batch]
        for event in events:
            del event["cluster_uid"]
        self.client.post(EVENTS_PATH, {"cluster_uid": self.cluster.cluster_uid, "events": events})
        self.features.batch_accepted()
        self.metrics.sent(len(batch))

    def _post_single(self, item: QueuedChange) -> None:
        try:
            self.client.post(EVENTS_PATH, self._event(item, extensions=self.event_extensions))
        except PlatformRejected as exc:
            if exc.status in _RETRYABLE_REJECTIONS:
                raise
            if self.event_extensions:
                # Maybe a strict platform that refuses our ordering fields: try upstream's shape.
                self.event_extensions = False
                return self._post_single(item)
            self._refused_for_good(item, exc.status, exc.body[:200])
            return None
        self.metrics.sent(1)
        return None

    def _refused_for_good(self, item: QueuedChange, status: int, error: str) -> None:
        log.error(
            "platform refused an event for good; sending a snapshot of its kind",
            kind=item.change.kind,
            name=item.change.name,
            status=status,
            error=error,
        )
        self.metrics.rejected(1)
        # Without the event the platform's copy of this kind is now wrong; waiting for
        # the resync interval (hours) would leave it wrong that long.
        self.request_snapshot([item.change.kind])

    def _event(self, item: QueuedChange, *, extensions: bool) -> dict[str, Any]:
        change = item.change
        if extensions:
            return change.to_event(cluster_uid=self.cluster.cluster_uid, seq=item.seq)
        event = change.to_event(cluster_uid=self.cluster.cluster_uid)
        event.pop("resource_version", None)
        return event


def accepted_kinds(answer: Any) -> list[str] | None:
    """The kinds a heartbeat answer says the platform accepts; ``None`` when it does not say."""
    kinds = answer.get("kinds") if isinstance(answer, dict) else None
    return [str(kind) for kind in kinds] if isinstance(kinds, list) else None


class HeartbeatLoop:
    """Beats every ``interval`` with counts and digests; passes ``resync`` answers on.

    Counts and digests cover only the kinds whose every change the platform
    acknowledged, so drift means a change the platform never got, never one in flight.
    """

    def __init__(
        self,
        *,
        client: Poster,
        cache: LocalCache,
        cluster: ClusterIdentity,
        interval: float,
        stop: threading.Event,
        on_resync: Callable[[list[str]], None],
        include_digests: Callable[[], bool] = lambda: True,
        unsettled: Callable[[], set[str]] = set,
        changes_put: Callable[[], dict[str, int]] = dict,
        may_ship: Callable[[], bool] = lambda: True,
        metrics: ShippingMetrics | None = None,
        features: PlatformFeatures | None = None,
        kind_states: KindStates | None = None,
        on_accepted: Callable[[list[str]], None] = lambda kinds: None,
    ) -> None:
        self.client = client
        self.cache = cache
        self.cluster = cluster
        self.kind_states = kind_states
        #: Told the kinds the platform newly accepts (a plugin installed there since).
        self.on_accepted = on_accepted
        self.interval = interval
        self.stop = stop
        self.on_resync = on_resync
        self.include_digests = include_digests
        #: Kinds with changes not yet acknowledged (:meth:`Shipper.unsettled_kinds`).
        self.unsettled = unsettled
        #: Changes ever queued per kind (:meth:`CoalescingQueue.puts_by_kind`).
        self.changes_put = changes_put
        self.may_ship = may_ship
        self.metrics = metrics or _NoMetrics()
        self.features = features or PlatformFeatures()
        self.sent = 0

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            if not self.may_ship():
                continue
            try:
                self.beat()
            except (PlatformUnavailable, PlatformRejected) as exc:
                log.warning("heartbeat failed", error=str(exc))
            except Exception:
                log.exception("heartbeat failed")

    def beat(self) -> None:
        body: dict[str, Any] = {
            "cluster_uid": self.cluster.cluster_uid,
            "agent_version": self.cluster.agent_version,
        }
        puts: dict[str, int] | None = None  # changes queued per kind as the body was built
        if self.include_digests():
            with self.cache.lock:  # watchers queue a change under it: cache and queue agree
                counts = self.cache.counts()
                digests = self.cache.digests()
                # A kind with changes still on their way differs from the platform's
                # copy only by those: comparing it would ask for a needless resync.
                compared = set(counts) - self.unsettled()
                puts = self.changes_put()
            if self.kind_states is not None:
                compared &= self.kind_states.carried()
                body["kinds"] = self.kind_states.states()
            body["counts"] = {k: n for k, n in counts.items() if k in compared}
            body["digests"] = {k: d for k, d in digests.items() if k in compared}
        answer = self.client.post(HEARTBEAT_PATH, body)
        self.features.heartbeat_answered(answer)
        if self.kind_states is not None:
            newly = self.kind_states.accepted_by_platform(accepted_kinds(answer))
            if newly:
                log.info("the platform now accepts these kinds: sending them", kinds=sorted(newly))
                self.on_accepted(sorted(newly))
        self.sent += 1
        self.metrics.heartbeat_ok()
        resync = answer.get("resync") if isinstance(answer, dict) else None
        if isinstance(resync, list) and resync:
            # A change queued since the body was built may have reached the platform
            # before the heartbeat did: it then compared against a newer state than ours.
            kinds = [str(kind) for kind in resync]
            if puts is not None:
                now = self.changes_put()
                kinds = [kind for kind in kinds if now.get(kind, 0) == puts.get(kind, 0)]
            if kinds:
                log.info("platform asked for a resync", kinds=kinds)
                self.on_resync(kinds)
