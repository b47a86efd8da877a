"""Ten clusters streaming into a scaled-out platform while an API process and a worker die.

Two API processes behind one address, two RQ workers and the scheduler on one
PostgreSQL and one Redis (``scale_out.Platform``); ten API servers with churn
and ten real operators, each cluster in a process of its own.  Midway, one API
process and one worker are killed (SIGKILL: no goodbye, a job may be cut in
half) and started again.  Afterwards every cluster's inventory is exactly its
API server's objects, and no history version repeats a state or outnumbers the
API server's changes.  bench/scale_out.py runs the same at full size.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest
from outages import PrivateRedis
from prometheus_client.parser import text_string_to_metric_families
from scale_out import ClusterPlan, Platform, history_problems, platform_state, start_clusters

from reference_app import create_app
from reference_app.app import close_app
from reference_app.auth.credentials import register_cluster
from reference_app.state import get_state

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CLUSTERS = 10
SIZE = 30  # bulk Pods per cluster, besides the demo objects
CHURN_SECONDS = 12.0


def register_clusters(database_url: str, workdir: Path, count: int) -> list:
    app = create_app({
        "DATABASE_URL": database_url, "INSTANCE_PATH": str(workdir / "setup"),
        "PERIODIC_JOBS": False, "AUTO_MIGRATE": False,
    })  # fmt: skip
    try:
        storage = get_state(app).storage
        org = storage.create_org("scale-out")
        return [register_cluster(storage, org.id, f"cluster-{n}") for n in range(count)]
    finally:
        close_app(app)


def _scrape(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _log(workdir: Path, name: str) -> str:
    return (workdir / f"{name}.log").read_text(errors="replace")


def test_ten_clusters_converge_exactly_through_api_and_worker_restarts(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    platform = Platform(fresh_postgres_url, redis.url, tmp_path)
    processes: list = []
    finish = None
    try:
        platform.start()
        registrations = register_clusters(fresh_postgres_url, tmp_path, CLUSTERS)
        plans = [
            ClusterPlan(
                index=n,
                platform_url=platform.url,
                client_id=reg.client_id,
                private_key_pem=reg.private_key_pem,
                workdir=str(tmp_path),
                size=SIZE,
                churn_seconds=CHURN_SECONDS,
                churn_interval=0.3,
            )
            for n, reg in enumerate(registrations)
        ]
        processes, results, finish = start_clusters(plans)
        time.sleep(CHURN_SECONDS / 2)
        for name in ("api-1", "worker-1"):
            platform.kill(name)
        time.sleep(1.0)  # the operators' requests meet a dead backend meanwhile
        for name in ("api-1", "worker-1"):
            platform.restart(name)
        expected = {}
        for _ in plans:
            index, _uid, state = results.get(timeout=120)
            expected[index] = state

        deadline = time.monotonic() + 60
        pending = dict(enumerate(registrations))
        while pending and time.monotonic() < deadline:
            for index, reg in list(pending.items()):
                live, _ = platform_state(fresh_postgres_url, reg.cluster.id)
                if live == expected[index]["live"]:
                    del pending[index]
            time.sleep(0.5)
        for index, reg in enumerate(registrations):
            live, history = platform_state(fresh_postgres_url, reg.cluster.id)
            want = expected[index]["live"]
            assert set(live) == set(want), (index, set(want) ^ set(live))
            assert live == want, index
            assert history_problems(history, expected[index]["changes"]) == [], index
            # Every object that exists has a history; every churned-away Pod ends deleted.
            assert set(want) <= set(history)
            deleted = {uid for uid, versions in history.items() if versions[-1][0] == "deleted"}
            assert deleted.isdisjoint(want) and deleted == set(history) - set(want)
        # The restarts happened, and snapshots went through both workers.
        assert _log(tmp_path, "api-1").count("Starting gunicorn") == 2
        for worker in ("worker-1", "worker-2"):
            assert "applied staged snapshot" in _log(tmp_path, worker), worker
        # The workers' own metrics (obsyk worker --metrics-port) count what they applied.
        # Summed over both: which worker took which job, and which one's counts the
        # restart reset, is up to the queue.
        scrapes = [_scrape(port) for port in platform.worker_metrics_ports.values()]

        def total(name: str, **labels: str) -> float:
            return sum(
                value
                for metrics in scrapes
                for (sample, sample_labels), value in metrics.items()
                if sample == name and labels.items() <= dict(sample_labels).items()
            )

        assert total("obsyk_snapshot_reconcile_seconds_count", path="staged") > 0
        assert total("obsyk_ingested_changes_total", kind="Pod") > 0
    finally:
        if finish is not None:
            finish.set()
        for process in processes:
            process.join(15)
            if process.is_alive():
                process.kill()
        platform.stop()
        redis.kill()
