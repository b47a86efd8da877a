"""Shipping under trouble: token expiry, 429, outages, chunking, resync, upstream-only platforms."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

from fake_platform import FakePlatform
from test_operator_sync import pod

from obsyk_operator.operator import Operator
from obsyk_operator.testing.kube_server import KubeServer


def agent_auth_headers(platform: FakePlatform) -> list[str]:
    return [r.authorization for r in platform.received]


def test_token_assertion_is_es256_with_the_contract_claims(
    platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    # The fake platform verified signature and claims; it issued a token, so they were right.
    assert platform.token_requests
    assert platform.token_requests[0]["grant_type"] == (
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    )


def test_401_fetches_a_new_token_once_and_nothing_is_lost(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    operator = start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    fetched = operator.tokens.fetched
    platform.expire_tokens()
    kube.add("pods", pod("after-expiry"))
    platform.wait_for(lambda: "after-expiry" in platform.names("Pod"))
    assert operator.tokens.fetched == fetched + 1
    assert platform.unauthorized == 1
    assert len(set(agent_auth_headers(platform))) == 2


def test_short_lived_tokens_are_refreshed_ahead_of_expiry(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    platform.token_lifetime = 1  # refreshed at half its life
    start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    platform.wait_for(lambda: len(platform.token_requests) >= 3, timeout=5)
    assert platform.unauthorized == 0


def test_429_retry_after_is_honoured(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    start_operator(shipping={"heartbeat_interval": 60})
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    platform.script(429, headers={"Retry-After": "1"})
    kube.add("pods", pod("patient"))
    platform.wait_for(lambda: "patient" in platform.names("Pod"), timeout=10)
    attempts = [r for r in platform.received if r.path.endswith("/events")]
    assert len(attempts) == 2
    # Our own backoff is capped at 0.5 s in tests: only Retry-After explains a 1 s wait.
    assert attempts[1].at - attempts[0].at >= 0.95


def test_503_retry_after_as_an_http_date_is_honoured(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    start_operator(shipping={"heartbeat_interval": 60})
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    # HTTP dates have whole seconds: three seconds ahead is at least two from now.
    platform.script(503, headers={"Retry-After": formatdate(time.time() + 3, usegmt=True)})
    kube.add("pods", pod("patient"))
    platform.wait_for(lambda: "patient" in platform.names("Pod"), timeout=10)
    attempts = [r for r in platform.received if r.path.endswith("/events")]
    assert len(attempts) == 2
    # Our own backoff is capped at 0.5 s in tests: only the date explains this wait.
    assert attempts[1].at - attempts[0].at >= 1.5


def test_5xx_is_retried_with_backoff(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    start_operator(shipping={"heartbeat_interval": 60})
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    platform.script(500, times=3)
    kube.add("pods", pod("persistent"))
    platform.wait_for(lambda: "persistent" in platform.names("Pod"))
    attempts = [r for r in platform.received if r.path.endswith("/events")]
    assert len(attempts) == 4
    gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
    assert all(gap >= 0.03 for gap in gaps)


def test_platform_outage_with_changes_meanwhile_converges(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    for name in ("stays", "changes", "deleted-in-outage"):
        kube.add("pods", pod(name))
    start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    platform.stop()  # connection refused from now on
    kube.add("pods", pod("added-in-outage"))
    kube.modify("pods", "changes", {"status": {"phase": "Running"}}, namespace="default")
    for i in range(20):  # a flapping object: coalesced, only its last state matters
        kube.modify("pods", "stays", {"metadata": {"labels": {"n": str(i)}}}, namespace="default")
    kube.delete("pods", "deleted-in-outage", namespace="default")
    time.sleep(1.0)
    platform.start()  # same port

    def converged() -> bool:
        records = {r["name"]: r for r in platform.records("Pod").values()}
        return (
            set(records) == {"stays", "changes", "added-in-outage"}
            and records["stays"]["labels"]["n"] == "19"
            and records["changes"].get("phase") == "Running"
        )

    platform.wait_for(converged, timeout=15)


def test_platform_without_extensions_gets_single_upstream_events(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    platform.supports_extensions = False
    kube.add("pods", pod("gone-soon"))
    operator = start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    kube.add("pods", pod("one"))
    kube.add("pods", pod("two"))
    kube.delete("pods", "gone-soon", namespace="default")
    platform.wait_for(lambda: platform.names("Pod") == {"one", "two"})
    # Its 422 named top-level fields, no batch entry: the batch form itself was refused.
    assert operator.shipper.batches_supported is False
    accepted = [b for b in platform.bodies("/events") if "events" not in b and "seq" not in b]
    assert {(b["type"], b["name"]) for b in accepted} >= {
        ("added", "one"),
        ("added", "two"),
        ("deleted", "gone-soon"),
    }
    for body in accepted:
        assert set(body) <= {"cluster_uid", "type", "kind", "uid", "name", "namespace", "object"}


def test_an_event_refused_for_good_brings_a_snapshot_of_its_kind_soon(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    kube.add("pods", pod("before"))
    start_operator(shipping={"heartbeat_interval": 60, "resync_interval": 3600})
    platform.wait_for(lambda: len(platform.bodies("/snapshot")) == 1)
    platform.refused_event_names = {"refused"}
    kube.add("pods", pod("refused"))
    # Not the next resync, an hour away: a snapshot of Pods only, carrying the refused object.
    platform.wait_for(lambda: "refused" in platform.names("Pod"), timeout=5)
    [first, follow_up] = platform.bodies("/snapshot")
    assert {p["name"] for p in follow_up["pods"]} == {"before", "refused"}
    assert "deployments" not in follow_up and "deployments" in first


def test_an_invalid_event_in_a_batch_is_refused_alone_and_batches_go_on(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    kube.add("pods", pod("before"))
    operator = start_operator(shipping={"heartbeat_interval": 60, "resync_interval": 3600})
    platform.wait_for(lambda: len(platform.bodies("/snapshot")) == 1)
    platform.refused_event_names = {"refused"}
    platform.down = True  # the three changes pile up in the queue and go as one batch
    for name in ("first", "refused", "last"):
        kube.add("pods", pod(name))
    platform.wait_for(lambda: len(operator.queue) == 3)
    platform.down = False

    platform.wait_for(lambda: platform.names("Pod") == {"before", "first", "refused", "last"})
    batches = [b for b in platform.bodies("/events") if "events" in b]
    names = [[event["name"] for event in batch["events"]] for batch in batches]
    # The last batch of all three is the 422 (earlier ones may have met the outage)...
    refused_at = max(i for i, batch in enumerate(names) if batch == ["first", "refused", "last"])
    assert names[refused_at + 1 :] == [["first", "last"]]  # ...then the rest, still a batch
    # The refused Pod reached the platform by a snapshot of Pods only, not the hourly resync.
    follow_up = platform.bodies("/snapshot")[-1]
    assert {p["name"] for p in follow_up["pods"]} == {"before", "first", "refused", "last"}
    assert "deployments" not in follow_up
    rejected = operator.metrics.registry.get_sample_value("obsyk_operator_changes_rejected_total")
    assert rejected == 1

    kube.add("pods", pod("later"))
    platform.wait_for(lambda: "later" in platform.names("Pod"))
    assert operator.shipper.batches_supported
    assert platform.bodies("/events")[-1]["events"][0]["name"] == "later"


def test_large_snapshots_to_a_platform_speaking_our_extensions_are_chunked(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    for i in range(30):
        kube.add("pods", pod(f"p{i:02d}"))
    start_operator(shipping={"snapshot_chunk_bytes": 2000})
    platform.wait_for(lambda: len(platform.names("Pod")) == 30)
    chunks = platform.bodies("/snapshot")
    assert len(chunks) > 2
    assert len({c["snapshot_id"] for c in chunks}) == 1
    assert [c["chunk"] for c in chunks] == list(range(len(chunks)))
    assert [c["final"] for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert all(c["cluster_uid"] == kube.kube_system_uid for c in chunks)
    assert all(c["kubernetes_version"] == "v1.30.0" for c in chunks)


def test_heartbeats_carry_counts_and_digests_and_resync_answers_bring_a_snapshot(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    kube.add("pods", pod("a"))
    start_operator()
    platform.wait_for(lambda: platform.bodies("/snapshot"))
    platform.wait_for(lambda: any("counts" in b for b in platform.bodies("/heartbeat")))
    beat = next(b for b in platform.bodies("/heartbeat") if "counts" in b)
    assert beat["counts"]["Pod"] == 1
    assert len(beat["digests"]["Pod"]) == 64
    assert beat["digests"]["Deployment"] == "0" * 64
    platform.resync_answer = ["Pod", "NoSuchKind"]
    platform.wait_for(lambda: len(platform.bodies("/snapshot")) == 2)
    resync = platform.bodies("/snapshot")[1]
    assert [p["name"] for p in resync["pods"]] == ["a"]
    assert "deployments" not in resync  # only the kinds asked for; the others stay untouched


def test_resync_interval_sends_full_snapshots(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    uids = {kube.add("pods", pod(f"p{i}"))["metadata"]["uid"] for i in range(4)}
    start_operator(shipping={"resync_interval": 0.5})
    platform.wait_for(lambda: len(snapshots(platform)) >= 3, timeout=5)
    for snapshot in snapshots(platform):
        assert {p["uid"] for body in snapshot for p in body.get("pods", [])} == uids


def snapshots(platform: FakePlatform) -> list[list[dict[str, Any]]]:
    """The snapshots received, each as its bodies (several when chunked)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for index, body in enumerate(platform.bodies("/snapshot")):
        grouped.setdefault(body.get("snapshot_id", f"whole-{index}"), []).append(body)
    return [
        bodies
        for bodies in grouped.values()
        if "snapshot_id" not in bodies[-1] or bodies[-1].get("final")
    ]


def test_until_the_platform_shows_it_speaks_our_extensions_a_snapshot_is_one_body(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    # A platform that ignores unknown fields would take each chunk as the whole truth.
    platform.supports_extensions = False
    platform.lenient = True
    for i in range(30):
        kube.add("pods", pod(f"p{i:02d}"))
    operator = start_operator(shipping={"snapshot_chunk_bytes": 2000})
    platform.wait_for(lambda: operator.shipper.snapshots_sent == 1)
    [body] = platform.bodies("/snapshot")
    assert "snapshot_id" not in body
    assert len(platform.names("Pod")) == 30
    operator.shipper.request_snapshot()  # a later resync: still nothing learnt, still one body
    platform.wait_for(lambda: operator.shipper.snapshots_sent == 2)
    assert ["snapshot_id" in b for b in platform.bodies("/snapshot")] == [False, False]
    assert len(platform.names("Pod")) == 30


def test_an_accepted_event_batch_shows_the_extensions_and_later_snapshots_are_chunked(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    platform.answers_resync = False  # no heartbeat proof: only the batch can tell
    for i in range(30):
        kube.add("pods", pod(f"p{i:02d}"))
    operator = start_operator(shipping={"snapshot_chunk_bytes": 2000})
    platform.wait_for(lambda: operator.shipper.snapshots_sent == 1)
    assert "snapshot_id" not in platform.bodies("/snapshot")[0]
    kube.add("pods", pod("batched"))
    platform.wait_for(lambda: any("events" in b for b in platform.bodies("/events")))
    operator.shipper.request_snapshot()
    platform.wait_for(lambda: operator.shipper.snapshots_sent == 2)
    chunks = platform.bodies("/snapshot")[1:]
    assert len(chunks) > 2 and chunks[-1]["final"] is True
    assert len(platform.names("Pod")) == 31


def test_a_platform_that_refuses_chunks_gets_one_body_from_then_on(
    kube: KubeServer, platform: FakePlatform, start_operator: Callable[..., Operator]
) -> None:
    platform.refuses_chunks = True
    for i in range(30):
        kube.add("pods", pod(f"p{i:02d}"))
    operator = start_operator(shipping={"snapshot_chunk_bytes": 2000})
    platform.wait_for(lambda: operator.shipper.snapshots_sent == 1)
    first_chunk, whole = platform.bodies("/snapshot")
    assert first_chunk["chunk"] == 0 and "snapshot_id" not in whole
    assert len(platform.names("Pod")) == 30
    operator.shipper.request_snapshot()
    platform.wait_for(lambda: operator.shipper.snapshots_sent == 2)
    assert "snapshot_id" not in platform.bodies("/snapshot")[-1]
    assert len(platform.bodies("/snapshot")) == 3
