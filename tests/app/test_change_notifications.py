"""``obsyk_resource_changed``: one call per committed change, from every ingestion path.

The apps of this module carry a recording plugin (and one that always fails,
to show a broken plugin costs the others nothing), on both runtimes: the
embedded thread and PostgreSQL + Redis with RQ.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_wire import Agent, event, pod
from app_support import embedded_config, postgres_config
from flask import Flask

from obsyk_core.ingest import IngestResult, ResourceChange
from obsyk_core.plugins import build_plugin_manager, hookimpl
from obsyk_core.storage import ChangeType
from reference_app import create_app
from reference_app.app import close_app
from reference_app.jobs.notifications import announce_changes, notify_changes
from reference_app.jobs.queue import RqJobQueue
from reference_app.state import get_state


class ChangeRecorder:
    def __init__(self) -> None:
        self.changes: list[ResourceChange] = []

    @hookimpl
    def obsyk_resource_changed(self, change: ResourceChange) -> None:
        self.changes.append(change)

    def take(self) -> list[tuple[str, str]]:
        """(uid, change) of the calls since the last take."""
        taken = [(change.uid, str(change.change)) for change in self.changes]
        self.changes.clear()
        return taken


class BrokenListener:
    @hookimpl
    def obsyk_resource_changed(self, change: ResourceChange) -> None:
        raise RuntimeError("this plugin always fails")


@pytest.fixture
def recorder() -> ChangeRecorder:
    return ChangeRecorder()


def _plugins(recorder: ChangeRecorder) -> Any:
    return build_plugin_manager(plugins=[BrokenListener(), recorder], distribution="obsyk")


# These override conftest's fixtures of the same names, so ``app`` (both runtimes)
# and every helper built on it carry the listening plugins.
@pytest.fixture
def embedded_app(tmp_path: Path, recorder: ChangeRecorder) -> Iterator[Flask]:
    app = create_app(embedded_config(tmp_path, PLUGINS=_plugins(recorder)))
    yield app
    close_app(app)


@pytest.fixture
def postgres_app(
    tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str, recorder: ChangeRecorder
) -> Iterator[Flask]:
    config = postgres_config(
        tmp_path, postgres_url, redis_url, redis_prefix, PLUGINS=_plugins(recorder)
    )
    app = create_app(config)
    yield app
    jobs = get_state(app).jobs
    assert isinstance(jobs, RqJobQueue)
    jobs.queue.empty()  # type: ignore[no-untyped-call]
    close_app(app)


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _chunk(agent: Agent, snapshot_id: str, chunk: int, final: bool, **arrays: Any) -> Any:
    body = {"cluster_uid": agent.cluster_uid, "snapshot_id": snapshot_id, "chunk": chunk,
            "final": final, **arrays}  # fmt: skip
    return agent.post("snapshot", body)


def test_each_committed_event_is_notified_once(
    app: Flask, agent: Agent, recorder: ChangeRecorder, run_jobs: Callable[[], None]
) -> None:
    web = pod("p1", "web", phase="Pending")
    _ok(agent.event("added", "Pod", web))
    run_jobs()
    assert recorder.take() == [("p1", "added")]

    _ok(agent.event("added", "Pod", web))  # resent: a no-op
    run_jobs()
    assert recorder.take() == []

    _ok(agent.event("modified", "Pod", dict(web, phase="Running")))
    _ok(agent.event("deleted", "Pod", web))
    run_jobs()
    assert recorder.take() == [("p1", "modified"), ("p1", "deleted")]


def test_notification_carries_the_committed_version(
    app: Flask, agent: Agent, recorder: ChangeRecorder, run_jobs: Callable[[], None]
) -> None:
    _ok(agent.event("added", "Pod", pod("p1", "web", namespace="shop")))
    run_jobs()

    [change] = recorder.changes
    [version] = get_state(app).storage.resource_history(agent.cluster_id, "p1")
    assert (change.cluster_id, change.kind, change.namespace, change.name) == (
        agent.cluster_id,
        "Pod",
        "shop",
        "web",
    )
    assert change.change is ChangeType.ADDED
    assert (change.content_hash, change.changed_at) == (version.content_hash, version.changed_at)


def test_a_batch_changing_a_resource_twice_notifies_both_versions_in_order(
    app: Flask, agent: Agent, recorder: ChangeRecorder, run_jobs: Callable[[], None]
) -> None:
    web = pod("p1", "web", phase="Pending")
    batch = {
        "cluster_uid": agent.cluster_uid,
        "events": [
            event(None, "added", "Pod", web, seq=1),
            event(None, "added", "Pod", pod("p2", "db"), seq=2),
            event(None, "modified", "Pod", dict(web, phase="Running"), seq=3),
        ],
    }
    assert _ok(agent.post("events", batch))["added"] == 2
    run_jobs()
    assert recorder.take() == [("p1", "added"), ("p1", "modified"), ("p2", "added")]


def test_snapshot_changes_are_notified_once(
    app: Flask, agent: Agent, recorder: ChangeRecorder, run_jobs: Callable[[], None]
) -> None:
    _ok(agent.snapshot(pods=[pod("p1", "a"), pod("p2", "b")]))
    run_jobs()
    assert sorted(recorder.take()) == [("p1", "added"), ("p2", "added")]

    _ok(agent.snapshot(pods=[pod("p1", "a"), pod("p2", "b")]))  # resync, nothing changed
    run_jobs()
    assert recorder.take() == []

    _ok(agent.snapshot(pods=[pod("p1", "a")]))
    run_jobs()
    assert recorder.take() == [("p2", "deleted")]


def test_chunked_snapshot_changes_are_notified_once(
    app: Flask, agent: Agent, recorder: ChangeRecorder, run_jobs: Callable[[], None]
) -> None:
    _ok(_chunk(agent, "snap-1", 0, False, pods=[pod("p1", "a")]), 202)
    _ok(_chunk(agent, "snap-1", 1, True, pods=[pod("p2", "b")]), 202)
    run_jobs()
    assert sorted(recorder.take()) == [("p1", "added"), ("p2", "added")]

    # The next resync, chunked the same way, changes nothing.
    _ok(_chunk(agent, "snap-2", 0, False, pods=[pod("p1", "a")]), 202)
    _ok(_chunk(agent, "snap-2", 1, True, pods=[pod("p2", "b")]), 202)
    run_jobs()
    assert recorder.take() == []


def test_running_a_notification_job_again_notifies_nothing_more(
    app: Flask, agent: Agent, recorder: ChangeRecorder, run_jobs: Callable[[], None]
) -> None:
    _ok(agent.event("added", "Pod", pod("p1", "web")))
    run_jobs()
    assert recorder.take() == [("p1", "added")]
    [version] = get_state(app).storage.resource_history(agent.cluster_id, "p1")

    with app.app_context():  # what a retried or duplicated job does
        again = notify_changes(agent.cluster_id, version.changed_at.isoformat(), ["p1"])

    assert again == 0
    assert recorder.take() == []


def test_ingestion_succeeds_when_the_notification_cannot_be_queued(
    app: Flask, agent: Agent, recorder: ChangeRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def queue_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("queue unreachable")

    monkeypatch.setattr(get_state(app).jobs, "enqueue", queue_down)

    assert _ok(agent.event("added", "Pod", pod("p1", "web")))["added"] == 1
    assert get_state(app).storage.get_resource(agent.cluster_id, "p1") is not None


def _result(cluster_id: str, uids: list[str]) -> IngestResult:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    changes = [
        ResourceChange(cluster_id, uid, "Pod", "default", uid, ChangeType.ADDED, "h", now)
        for uid in uids
    ]
    return IngestResult(added=len(uids), changes=changes)


class _SpyQueue:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def enqueue(self, func: Any, *args: Any, job_id: str | None = None) -> str:
        self.calls.append((func, *args))
        return str(uuid.uuid4())


def test_jobs_carry_ids_only_and_nothing_is_queued_without_a_listener(
    embedded_app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reference_app.jobs import notifications

    monkeypatch.setattr(notifications, "UIDS_PER_JOB", 2)
    state = get_state(embedded_app)
    spy = _SpyQueue()
    monkeypatch.setattr(state, "jobs", spy)

    announce_changes(state, _result("c1", ["a", "b", "c"]))

    assert [(func, cluster, uids) for func, cluster, _, uids in spy.calls] == [
        (notify_changes, "c1", ["a", "b"]),
        (notify_changes, "c1", ["c"]),
    ]
    assert all(isinstance(call[2], str) for call in spy.calls)  # changed_at, as ISO text

    quiet = create_app(embedded_config(tmp_path / "quiet"))  # the built-ins only
    try:
        quiet_state = get_state(quiet)
        quiet_spy = _SpyQueue()
        monkeypatch.setattr(quiet_state, "jobs", quiet_spy)
        announce_changes(quiet_state, _result("c1", ["a"]))
        assert quiet_spy.calls == []
    finally:
        monkeypatch.undo()
        close_app(quiet)
