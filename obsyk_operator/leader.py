"""Leader election over a ``coordination.k8s.io/v1`` Lease.

Written here rather than taken from ``kubernetes.leaderelection`` because that
module keeps the leader's work running after the lease is lost and never
releases the lease on exit.  This elector clears :attr:`LeaseElector.is_leader`
the moment it sees another holder (or cannot renew within the deadline), and
releases the lease on shutdown so a standby takes over at once.

Expiry is judged like client-go does: by how long *we* have observed the
record unchanged, never by comparing the holder's clock with ours.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from obsyk_operator.kube_api import JsonObject, KubeApiError, collection_path

log = structlog.get_logger(__name__)


class LeaseApi(Protocol):
    def get(self, path: str) -> JsonObject: ...

    def create(self, path: str, body: JsonObject) -> JsonObject: ...

    def replace(self, path: str, body: JsonObject) -> JsonObject: ...


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    def __init__(
        self,
        *,
        api: LeaseApi,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.collection = collection_path("coordination.k8s.io", "v1", "leases", namespace)
        self.path = f"{self.collection}/{name}"
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock = clock
        self.is_leader = threading.Event()
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0

    def run(
        self,
        stop: threading.Event,
        *,
        on_started_leading: Callable[[], None] = lambda: None,
        on_stopped_leading: Callable[[], None] = lambda: None,
    ) -> None:
        last_renewed = 0.0
        while not stop.is_set():
            held = self._try_acquire_or_renew()
            if held:
                last_renewed = self.clock()
                if not self.is_leader.is_set():
                    log.info("became leader", lease=self.name, identity=self.identity)
                    self.is_leader.set()
                    on_started_leading()
            elif self.is_leader.is_set() and (
                held is False or self.clock() - last_renewed > self.renew_deadline
            ):
                # Stop first, then log: nothing may be shipped under a lease we no longer hold.
                self.is_leader.clear()
                on_stopped_leading()
                log.warning("lost leadership", lease=self.name, identity=self.identity)
            stop.wait(self.retry_period)
        if self.is_leader.is_set():
            self.is_leader.clear()
            on_stopped_leading()
            self.release()

    def _try_acquire_or_renew(self) -> bool | None:
        """True: we hold the lease; False: someone else validly does; None: API error."""
        now = _micro_time()
        try:
            try:
                lease = self.api.get(self.path)
            except KubeApiError as exc:
                if exc.status != 404:
                    raise
                self.api.create(self.collection, self._lease_body(None, now, transitions=0))
                return True
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity") or ""
            observed = (holder, spec.get("renewTime"), lease["metadata"].get("resourceVersion"))
            if observed != self._observed:
                self._observed, self._observed_at = observed, self.clock()
            duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
            expired = self.clock() - self._observed_at > duration
            if holder and holder != self.identity and not expired:
                return False
            transitions = int(spec.get("leaseTransitions") or 0)
            if holder != self.identity:
                transitions += 1
            body = self._lease_body(lease, now, transitions=transitions)
            if holder == self.identity:
                body["spec"]["acquireTime"] = spec.get("acquireTime") or now
            self.api.replace(self.path, body)
            return True
        except KubeApiError as exc:
            if exc.status == 409:
                return False  # another candidate wrote first
            log.warning("lease request failed", lease=self.name, error=str(exc))
            return None

    def _lease_body(self, current: JsonObject | None, now: str, *, transitions: int) -> JsonObject:
        metadata: JsonObject = {"name": self.name, "namespace": self.namespace}
        if current is not None:
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.lease_duration)),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": transitions,
            },
        }

    def release(self) -> None:
        """Give the lease up (if still ours) so a standby need not wait for it to expire."""
        try:
            lease = self.api.get(self.path)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            body = self._lease_body(
                lease, _micro_time(), transitions=int(spec.get("leaseTransitions") or 0)
            )
            body["spec"]["holderIdentity"] = ""
            body["spec"]["leaseDurationSeconds"] = 1
            self.api.replace(self.path, body)
            log.info("released leadership", lease=self.name)
        except KubeApiError as exc:
            log.warning("could not release the lease", lease=self.name, error=str(exc))
