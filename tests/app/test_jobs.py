"""Background jobs: staged snapshots applied, crash recovery, idempotency, pruning."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from app_support import ClusterKeys, embedded_config
from flask import Flask

from obsyk_core.storage import Organization, ResourceQuery, StagedChunk, Storage
from reference_app import create_app
from reference_app.app import close_app
from reference_app.auth.credentials import register_cluster
from reference_app.jobs import tasks
from reference_app.jobs.queue import RqJobQueue, ThreadJobQueue
from reference_app.state import get_state


@pytest.fixture
def cluster(
    make_org: Callable[..., Organization], make_cluster: Callable[..., ClusterKeys]
) -> ClusterKeys:
    return make_cluster(make_org())


def namespaces(*names: str) -> list[dict[str, Any]]:
    return [{"uid": f"uid-{name}", "name": name, "phase": "Active"} for name in names]


def stage(
    storage: Storage,
    cluster_id: str,
    snapshot_id: str,
    chunk: int,
    final: bool,
    body: dict[str, Any],
    received_at: datetime | None = None,
) -> None:
    payload = {
        "cluster_uid": "kube-system-uid",
        "snapshot_id": snapshot_id,
        "chunk": chunk,
        "final": final,
        **body,
    }
    storage.stage_chunk(
        cluster_id,
        StagedChunk(
            snapshot_id, chunk, final, orjson.dumps(payload), received_at or datetime.now(UTC)
        ),
    )


def live_names(storage: Storage, cluster_id: str, kind: str = "Namespace") -> set[str]:
    rows = storage.query_resources(ResourceQuery(cluster_ids=(cluster_id,), kind=kind, limit=1000))
    return {row.name for row in rows}


def stage_two_chunk_snapshot(storage: Storage, cluster_id: str) -> str:
    snapshot_id = f"snap-{uuid.uuid4().hex[:8]}"
    stage(storage, cluster_id, snapshot_id, 0, False, {"namespaces": namespaces("a", "b")})
    stage(storage, cluster_id, snapshot_id, 1, True, {"namespaces": namespaces("c")})
    return snapshot_id


def test_staged_snapshot_is_applied_by_the_queued_job(
    app: Flask, cluster: ClusterKeys, run_jobs: Callable[[], None]
) -> None:
    state = get_state(app)
    cluster_id = cluster.cluster.id
    snapshot_id = stage_two_chunk_snapshot(state.storage, cluster_id)

    state.jobs.enqueue(
        tasks.reconcile_staged_snapshot,
        cluster_id,
        snapshot_id,
        job_id=f"reconcile:{cluster_id}:{snapshot_id}",
    )
    run_jobs()

    assert live_names(state.storage, cluster_id) == {"a", "b", "c"}
    assert state.storage.staged_chunks(cluster_id, snapshot_id) == []
    stored = state.storage.get_cluster(cluster.cluster.org_id, cluster_id)
    assert stored is not None and stored.last_snapshot_at is not None


def test_chunked_snapshot_sweeps_kinds_seen_in_any_chunk(app: Flask, cluster: ClusterKeys) -> None:
    state = get_state(app)
    cluster_id = cluster.cluster.id
    with app.app_context():
        tasks.reconcile_staged_snapshot(
            cluster_id, stage_two_chunk_snapshot(state.storage, cluster_id)
        )
        # The next snapshot carries namespaces only in its first chunk: "b" and "c" are gone.
        snapshot_id = "second"
        stage(state.storage, cluster_id, snapshot_id, 0, False, {"namespaces": namespaces("a")})
        stage(state.storage, cluster_id, snapshot_id, 1, True, {"pods": []})
        tasks.reconcile_staged_snapshot(cluster_id, snapshot_id)

    assert live_names(state.storage, cluster_id) == {"a"}


def test_running_the_job_twice_applies_once(app: Flask, cluster: ClusterKeys) -> None:
    state = get_state(app)
    cluster_id = cluster.cluster.id
    snapshot_id = stage_two_chunk_snapshot(state.storage, cluster_id)

    with app.app_context():
        first = tasks.reconcile_staged_snapshot(cluster_id, snapshot_id)
        second = tasks.reconcile_staged_snapshot(cluster_id, snapshot_id)

    assert first is not None and first.added == 3
    assert second is None
    history = state.storage.resource_history(cluster_id, "uid-a")
    assert len(history) == 1


def test_incomplete_snapshot_stays_staged(app: Flask, cluster: ClusterKeys) -> None:
    state = get_state(app)
    cluster_id = cluster.cluster.id
    # Chunk 1 (final) arrived, chunk 0 did not: nothing may be applied yet.
    stage(state.storage, cluster_id, "gappy", 1, True, {"namespaces": namespaces("x")})

    with app.app_context():
        assert tasks.reconcile_staged_snapshot(cluster_id, "gappy") is None
        assert tasks.recover_pending() == []

    assert live_names(state.storage, cluster_id) == set()
    assert len(state.storage.staged_chunks(cluster_id, "gappy")) == 1


def test_recover_pending_applies_a_snapshot_whose_job_was_lost(
    app: Flask, cluster: ClusterKeys
) -> None:
    # The API staged every chunk and answered 202, then the worker died (or Redis
    # lost the queue) before the job ran: recovery must find and apply it.
    state = get_state(app)
    cluster_id = cluster.cluster.id
    snapshot_id = stage_two_chunk_snapshot(state.storage, cluster_id)

    with app.app_context():
        applied = tasks.recover_pending()
        again = tasks.recover_pending()

    assert snapshot_id in applied
    assert snapshot_id not in again
    assert live_names(state.storage, cluster_id) == {"a", "b", "c"}


def test_a_newer_snapshot_applies_the_older_ones_still_staged_first(
    app: Flask, cluster: ClusterKeys
) -> None:
    # "old"'s job was lost with Redis; "new"'s job runs first.  Applied after
    # "new", "old" would bring back "a" and "b", which the cluster no longer has.
    state = get_state(app)
    cluster_id = cluster.cluster.id
    earlier = datetime.now(UTC) - timedelta(seconds=30)
    stage(state.storage, cluster_id, "old", 0, True, {"namespaces": namespaces("a", "b")}, earlier)
    stage(state.storage, cluster_id, "new", 0, True, {"namespaces": namespaces("c")})

    with app.app_context():
        result = tasks.reconcile_staged_snapshot(cluster_id, "new")
        assert tasks.recover_pending() == []

    assert result is not None and result.added == 1
    assert live_names(state.storage, cluster_id) == {"c"}
    assert [v.change for v in state.storage.resource_history(cluster_id, "uid-a")] == [
        "added",
        "deleted",
    ]


def test_chunks_after_the_final_one_are_not_part_of_the_snapshot(
    app: Flask, cluster: ClusterKeys
) -> None:
    # The storage calls this snapshot ready (chunks 0..final staged): recovery must
    # apply it once, without the stray chunk, and leave nothing staged to retry.
    state = get_state(app)
    cluster_id = cluster.cluster.id
    snapshot_id = stage_two_chunk_snapshot(state.storage, cluster_id)
    stage(state.storage, cluster_id, snapshot_id, 2, False, {"namespaces": namespaces("stray")})

    with app.app_context():
        applied = tasks.recover_pending()
        again = tasks.recover_pending()

    assert applied == [snapshot_id]
    assert again == []
    assert live_names(state.storage, cluster_id) == {"a", "b", "c"}
    assert state.storage.staged_chunks(cluster_id, snapshot_id) == []


def test_snapshot_that_no_longer_parses_is_dropped_with_an_error(
    app: Flask, cluster: ClusterKeys, caplog: pytest.LogCaptureFixture
) -> None:
    # As if the plugin's schema changed after the chunk was staged: a record it now refuses.
    state = get_state(app)
    cluster_id = cluster.cluster.id
    stage(state.storage, cluster_id, "orphaned", 0, False, {"namespaces": namespaces("a")})
    stage(state.storage, cluster_id, "orphaned", 1, True, {"namespaces": [{"uid": "w"}]})

    with app.app_context(), caplog.at_level(logging.ERROR, logger=tasks.__name__):
        assert tasks.recover_pending() == []

    assert state.storage.staged_chunks(cluster_id, "orphaned") == []
    assert all(ready.cluster_id != cluster_id for ready in state.storage.ready_snapshots())
    assert live_names(state.storage, cluster_id) == set()
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "orphaned" in record.getMessage()
    assert "Missing data for required field." in record.getMessage()


def test_a_staged_array_whose_plugin_was_uninstalled_is_skipped_with_a_warning(
    app: Flask, cluster: ClusterKeys, caplog: pytest.LogCaptureFixture
) -> None:
    # As if the plugin declaring "widgets" was uninstalled after the chunk was staged.
    state = get_state(app)
    cluster_id = cluster.cluster.id
    stage(state.storage, cluster_id, "widgety", 0, True, {
        "namespaces": namespaces("a"), "widgets": [{"uid": "w"}],
    })  # fmt: skip

    with app.app_context(), caplog.at_level(logging.WARNING, logger=tasks.__name__):
        tasks.recover_pending()

    assert live_names(state.storage, cluster_id) == {"a"}
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "widgety" in record.getMessage() and "widgets" in record.getMessage()


def test_recover_pending_drops_long_abandoned_chunks(app: Flask, cluster: ClusterKeys) -> None:
    state = get_state(app)
    cluster_id = cluster.cluster.id
    long_ago = datetime.now(UTC) - timedelta(days=3)
    stage(
        state.storage,
        cluster_id,
        "abandoned",
        0,
        False,
        {"namespaces": namespaces("old")},
        received_at=long_ago,
    )
    stage(state.storage, cluster_id, "in-flight", 0, False, {"namespaces": namespaces("new")})

    with app.app_context():
        tasks.recover_pending()

    assert state.storage.staged_chunks(cluster_id, "abandoned") == []
    assert len(state.storage.staged_chunks(cluster_id, "in-flight")) == 1


def test_prune_history_keeps_the_retention_window(app: Flask, cluster: ClusterKeys) -> None:
    state = get_state(app)
    cluster_id = cluster.cluster.id
    old = datetime.now(UTC) - timedelta(days=state.settings.history_days + 5)
    with app.app_context():
        stage(
            state.storage,
            cluster_id,
            "s1",
            0,
            True,
            {"namespaces": namespaces("a")},
            received_at=old,
        )
        tasks.reconcile_staged_snapshot(cluster_id, "s1")
        stage(
            state.storage,
            cluster_id,
            "s2",
            0,
            True,
            {"namespaces": [{"uid": "uid-a", "name": "a", "phase": "Terminating"}]},
        )
        tasks.reconcile_staged_snapshot(cluster_id, "s2")
        assert len(state.storage.resource_history(cluster_id, "uid-a")) == 2

        pruned = tasks.prune_history()

    assert pruned == 1
    [kept] = state.storage.resource_history(cluster_id, "uid-a")
    assert kept.record is not None and kept.record["phase"] == "Terminating"


# --------------------------------------------------------------------------- the in-process queue


def test_thread_queue_does_not_queue_a_waiting_job_twice(embedded_app: Flask) -> None:
    jobs = get_state(embedded_app).jobs
    assert isinstance(jobs, ThreadJobQueue)
    calls: list[str] = []
    gate = threading.Event()

    def slow(tag: str) -> None:
        gate.wait(5)
        calls.append(tag)

    jobs.enqueue(slow, "blocker", job_id="blocker")
    first = jobs.enqueue(slow, "x", job_id="same")
    second = jobs.enqueue(slow, "x", job_id="same")
    gate.set()

    assert jobs.wait_idle(10)
    assert first == "same" and second is None
    assert calls == ["blocker", "x"]


def test_thread_queue_survives_a_failing_job(embedded_app: Flask) -> None:
    jobs = get_state(embedded_app).jobs
    assert isinstance(jobs, ThreadJobQueue)
    done: list[bool] = []

    def boom() -> None:
        raise RuntimeError("job failure")

    jobs.enqueue(boom)
    jobs.enqueue(lambda: done.append(True))

    assert jobs.wait_idle(10)
    assert done == [True]


def test_embedded_restart_applies_what_the_previous_process_staged(tmp_path: Path) -> None:
    # Process 1 staged a complete snapshot and died before its job thread ran it.
    first = create_app(embedded_config(tmp_path))
    storage = get_state(first).storage
    org = storage.create_org("restart")
    cluster_id = register_cluster(storage, org.id, "c").cluster.id
    stage_two_chunk_snapshot(storage, cluster_id)
    close_app(first)

    # Process 2 starts with its periodic jobs on: recovery runs at start-up.
    second = create_app(embedded_config(tmp_path, PERIODIC_JOBS=True))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not live_names(get_state(second).storage, cluster_id):
            time.sleep(0.1)
        assert live_names(get_state(second).storage, cluster_id) == {"a", "b", "c"}
    finally:
        close_app(second)


# --------------------------------------------------------------------------- RQ


@pytest.mark.postgres
@pytest.mark.redis
def test_rq_scheduler_recovers_a_snapshot_lost_with_its_queue(postgres_app: Flask) -> None:
    from app_support import drain_jobs, new_cluster, new_org

    from reference_app.jobs.periodic import build_cron_scheduler

    state = get_state(postgres_app)
    assert isinstance(state.jobs, RqJobQueue)
    cluster_id = new_cluster(postgres_app, new_org(postgres_app)).cluster.id
    stage_two_chunk_snapshot(state.storage, cluster_id)
    state.jobs.queue.empty()  # Redis lost the reconcile job

    scheduler = build_cron_scheduler(state.settings, state.jobs.connection)
    enqueued = scheduler.enqueue_jobs()
    drain_jobs(postgres_app)

    assert {job.func_name for job in enqueued} >= {"reference_app.jobs.tasks.recover_pending"}
    assert live_names(state.storage, cluster_id) == {"a", "b", "c"}


@pytest.mark.postgres
@pytest.mark.redis
def test_rq_queue_does_not_queue_a_waiting_job_twice(postgres_app: Flask) -> None:
    jobs = get_state(postgres_app).jobs
    assert isinstance(jobs, RqJobQueue)
    job_id = f"reconcile-staged:c1:{uuid.uuid4()}"  # colons are not valid in RQ ids

    first = jobs.enqueue(tasks.prune_history, job_id=job_id)
    second = jobs.enqueue(tasks.prune_history, job_id=job_id)

    assert first is not None and second is None
    assert jobs.queue.count == 1


@pytest.mark.postgres
@pytest.mark.redis
def test_a_failed_scheduler_loop_is_started_again_and_its_health_says_so(
    postgres_app: Flask,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from rq.cron import CronScheduler

    from reference_app.jobs.periodic import SchedulerHealth, run_scheduler

    # One failure no outage explains (a bug, a surprise from rq), then a working loop.
    failures = [RuntimeError("injected scheduler failure")]
    enqueue_jobs = CronScheduler.enqueue_jobs

    def fail_once(self: CronScheduler) -> list[Any]:
        if failures:
            raise failures.pop()
        return enqueue_jobs(self)

    monkeypatch.setattr(CronScheduler, "enqueue_jobs", fail_once)
    state = get_state(postgres_app)
    health_file = tmp_path / "scheduler.json"
    stop = threading.Event()
    thread = threading.Thread(
        target=run_scheduler,
        args=(state.settings, state.jobs.connection, stop, SchedulerHealth(health_file)),
    )
    with caplog.at_level(logging.ERROR):
        thread.start()
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not _reports(health_file, "running", 1):
                time.sleep(0.1)
            assert _reports(health_file, "running", 1)
        finally:
            stop.set()
            thread.join(10)

    assert not thread.is_alive()
    assert _reports(health_file, "stopped", 1)
    [failure] = [r for r in caplog.records if "scheduler failed" in r.getMessage()]
    assert failure.exc_info is not None and "injected" in str(failure.exc_info[1])
    assert isinstance(state.jobs, RqJobQueue)
    queued = {job.func_name for job in state.jobs.queue.jobs}
    assert "reference_app.jobs.tasks.recover_pending" in queued  # the new loop schedules


def _reports(health_file: Path, state: str, restarts: int) -> bool:
    """The health file says ``state`` after ``restarts`` restarts."""
    try:
        health = json.loads(health_file.read_text())
    except FileNotFoundError:
        return False
    return bool(health["state"] == state and health["restarts"] == restarts)


def test_a_health_file_that_cannot_be_written_never_stops_the_scheduler(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from reference_app.jobs.periodic import SchedulerHealth

    health = SchedulerHealth(tmp_path / "no-such-folder" / "scheduler.json")
    with caplog.at_level(logging.ERROR):
        for state in ("running", "redis_unreachable", "running"):
            health.report(state)  # never raises: the loop goes on

    assert health.state == "running"
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "cannot write the health file" in error.getMessage()
