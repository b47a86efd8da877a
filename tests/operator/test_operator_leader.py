"""Leader election over a Lease on the test server, with the real client."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_platform import FakePlatform
from test_operator_sync import pod

from obsyk_operator.kube_api import KubeApi, load_api_client
from obsyk_operator.leader import LeaseElector
from obsyk_operator.operator import Operator
from obsyk_operator.settings import LeaderSettings
from obsyk_operator.testing.kube_server import KubeServer


class Candidate:
    def __init__(self, api: KubeApi, identity: str) -> None:
        self.elector = LeaseElector(
            api=api,
            namespace="obsyk-system",
            name="obsyk-operator",
            identity=identity,
            lease_duration=1.0,
            renew_deadline=0.6,
            retry_period=0.1,
        )
        self.stop = threading.Event()
        self.transitions: list[str] = []
        self.thread = threading.Thread(
            target=self.elector.run,
            args=(self.stop,),
            kwargs={
                "on_started_leading": lambda: self.transitions.append("started"),
                "on_stopped_leading": lambda: self.transitions.append("stopped"),
            },
            daemon=True,
        )

    def wait_leader(self, expected: bool, timeout: float = 5.0) -> None:
        event = self.elector.is_leader
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        while event.is_set() != expected and not deadline.is_set():
            deadline.wait(0.02)
        timer.cancel()
        assert event.is_set() == expected


@pytest.fixture
def candidates(kubeconfig: Path) -> Iterator[Callable[[str], Candidate]]:
    made: list[Candidate] = []

    def make(identity: str) -> Candidate:
        candidate = Candidate(KubeApi(load_api_client(str(kubeconfig))), identity)
        made.append(candidate)
        candidate.thread.start()
        return candidate

    yield make
    for candidate in made:
        candidate.stop.set()
        candidate.thread.join(5)


def test_one_leader_at_a_time_and_release_on_shutdown_hands_over(
    kube: KubeServer, candidates: Callable[[str], Candidate]
) -> None:
    first = candidates("a")
    first.wait_leader(True)
    second = candidates("b")
    second.wait_leader(False, timeout=1.5)  # longer than the lease: "a" keeps renewing
    assert first.elector.is_leader.is_set()
    first.stop.set()
    first.thread.join(5)
    assert first.transitions == ["started", "stopped"]
    assert kube.get("leases", "obsyk-operator", namespace="obsyk-system")["spec"][
        "holderIdentity"
    ] in ("", "b")
    second.wait_leader(True, timeout=2)
    lease = kube.get("leases", "obsyk-operator", namespace="obsyk-system")
    assert lease["spec"]["holderIdentity"] == "b"
    assert lease["spec"]["leaseTransitions"] >= 1


def test_leadership_lost_to_another_holder_stops_at_once(
    kube: KubeServer, candidates: Callable[[str], Candidate]
) -> None:
    first = candidates("a")
    first.wait_leader(True)
    # Someone else takes the lease (e.g. after a network partition healed).
    kube.modify(
        "leases",
        "obsyk-operator",
        {"spec": {"holderIdentity": "intruder", "leaseDurationSeconds": 30}},
        namespace="obsyk-system",
    )
    first.wait_leader(False, timeout=1)
    assert first.transitions == ["started", "stopped"]


def test_only_the_leading_operator_ships(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    fast = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.1}
    leader = start_operator(leader=LeaderSettings(enabled=True, identity="one", **fast))
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    standby = start_operator(leader=LeaderSettings(enabled=True, identity="two", **fast))
    platform.wait_for(standby.ready.is_set)
    kube.add("pods", pod("seen-by-both"))
    platform.wait_for(lambda: "seen-by-both" in platform.names("Pod"))
    # The standby sent nothing: one snapshot, and every request carries the leader's token.
    assert len(platform.bodies("/snapshot")) == 1
    assert len({r.authorization for r in platform.received}) == 1
    leader.stop()
    # The new leader starts with a full snapshot of its own warm cache.
    platform.wait_for(lambda: len(platform.bodies("/snapshot")) == 2, timeout=5)
    kube.add("pods", pod("after-failover"))
    platform.wait_for(lambda: "after-failover" in platform.names("Pod"))
    assert standby.elector is not None and standby.elector.is_leader.is_set()
