"""``check_cluster_staleness``: one warning per silence, on explicit clocks, on both runtimes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from app_support import ClusterKeys, drain_jobs, embedded_config, new_cluster, new_org
from flask import Flask

from obsyk_core.storage import ClusterSeen, Organization
from reference_app import create_app
from reference_app.app import close_app
from reference_app.jobs.staleness import check_cluster_staleness
from reference_app.state import get_state

MINUTE = timedelta(minutes=1)


def check(app: Flask, now: datetime, cluster_ids: set[str]) -> list[str]:
    """Run the job at ``now``; the ids it warned about, among ``cluster_ids`` (the
    shared PostgreSQL also holds other tests' clusters)."""
    with app.app_context():
        return [cid for cid in check_cluster_staleness(now=now) if cid in cluster_ids]


def seen(app: Flask, cluster_id: str, at: datetime) -> None:
    get_state(app).storage.mark_cluster_seen(cluster_id, ClusterSeen(seen_at=at, heartbeat_at=at))


def silence_warnings(caplog: pytest.LogCaptureFixture, cluster_id: str) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if getattr(record, "event", None) == "cluster_disconnected"
        and getattr(record, "cluster_id", None) == cluster_id
    ]


def test_a_silent_cluster_is_warned_about_once_per_silence(
    app: Flask,
    make_org: Callable[..., Organization],
    make_cluster: Callable[..., ClusterKeys],
    caplog: pytest.LogCaptureFixture,
) -> None:
    org = make_org()
    keys = make_cluster(org, "prod-eu")
    quiet = make_cluster(org)  # never heard from: pending, never "silent"
    cluster_id = keys.cluster.id
    mine = {cluster_id, quiet.cluster.id}
    t0 = datetime.now(UTC)
    seen(app, cluster_id, t0)
    caplog.set_level(logging.WARNING, logger="reference_app.jobs.staleness")

    assert check(app, t0 + 10 * MINUTE, mine) == []  # within 15 min: connected
    assert check(app, t0 + 16 * MINUTE, mine) == [cluster_id]
    assert check(app, t0 + 20 * MINUTE, mine) == []  # same silence: no second warning
    assert check(app, t0 + 20 * MINUTE, mine) == []

    [warning] = silence_warnings(caplog, cluster_id)
    assert warning.levelno == logging.WARNING
    assert (warning.org_id, warning.cluster_name) == (org.id, "prod-eu")  # type: ignore[attr-defined]
    assert warning.last_seen_at == t0.isoformat()  # type: ignore[attr-defined]
    assert warning.silent_seconds == 16 * 60  # type: ignore[attr-defined]
    assert "prod-eu" in warning.getMessage()

    # Back for a moment (no check saw it connected), then silent again: a new silence.
    t1 = t0 + 30 * MINUTE
    seen(app, cluster_id, t1)
    assert check(app, t1 + 16 * MINUTE, mine) == [cluster_id]
    assert len(silence_warnings(caplog, cluster_id)) == 2


@pytest.mark.postgres
@pytest.mark.redis
def test_processes_sharing_redis_warn_once(
    postgres_app: Flask, tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str
) -> None:
    from app_support import postgres_config

    cluster_id = new_cluster(postgres_app, new_org(postgres_app)).cluster.id
    t0 = datetime.now(UTC)
    seen(postgres_app, cluster_id, t0)
    assert check(postgres_app, t0 + 16 * MINUTE, {cluster_id}) == [cluster_id]

    other = create_app(postgres_config(tmp_path / "other", postgres_url, redis_url, redis_prefix))
    try:
        assert check(other, t0 + 17 * MINUTE, {cluster_id}) == []
    finally:
        close_app(other)


def _reported(app: Flask, cluster_id: str) -> bool:
    return get_state(app).cache.get(f"cluster-silence:{cluster_id}") is not None


def test_embedded_periodic_thread_runs_the_check(tmp_path: Path) -> None:
    first = create_app(embedded_config(tmp_path))
    cluster_id = new_cluster(first, new_org(first)).cluster.id
    seen(first, cluster_id, datetime.now(UTC) - timedelta(hours=1))
    close_app(first)

    second = create_app(embedded_config(tmp_path, PERIODIC_JOBS=True))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _reported(second, cluster_id):
            time.sleep(0.1)
        assert _reported(second, cluster_id)
    finally:
        close_app(second)


@pytest.mark.postgres
@pytest.mark.redis
def test_rq_scheduler_runs_the_check(postgres_app: Flask) -> None:
    from reference_app.jobs.periodic import build_cron_scheduler
    from reference_app.jobs.queue import RqJobQueue

    state = get_state(postgres_app)
    assert isinstance(state.jobs, RqJobQueue)
    cluster_id = new_cluster(postgres_app, new_org(postgres_app)).cluster.id
    seen(postgres_app, cluster_id, datetime.now(UTC) - timedelta(hours=1))

    enqueued = build_cron_scheduler(state.settings, state.jobs.connection).enqueue_jobs()
    drain_jobs(postgres_app)

    names = {job.func_name for job in enqueued}
    assert "reference_app.jobs.staleness.check_cluster_staleness" in names
    assert _reported(postgres_app, cluster_id)
