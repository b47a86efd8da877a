"""Redis dies under a running deployment: nothing acknowledged is lost, no process restarts.

Real processes, as deployed: ``obsyk serve`` (gunicorn), ``obsyk worker
--with-scheduler`` and ``obsyk scheduler``, on the run's PostgreSQL and a
private redis-server that the test kills (SIGKILL: it comes back empty, every
queued job lost) and starts again while an operator-like client streams
chunked snapshots, event batches, single events and heartbeats.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from agent_wire import event, pod, stored_inventory
from app_support import (
    JWT_BEARER,
    PUBLIC_URL,
    ClusterKeys,
    assertion,
    new_cluster,
    new_org,
    postgres_config,
)
from flask import Flask
from outages import ObsykProcess, PrivateRedis, free_port, slow_job, wait_for_port

from reference_app import create_app
from reference_app.app import close_app
from reference_app.jobs.periodic import OUTAGE_ENDED, OUTAGE_STARTED
from reference_app.state import get_state

pytestmark = [pytest.mark.postgres]

#: How the scheduler's log lines of an outage's start and end begin.
OUTAGE_STARTS = OUTAGE_STARTED.split(" (")[0]
OUTAGE_ENDS = OUTAGE_ENDED.split(" (")[0]


@dataclass
class Deployment:
    """A platform of real processes on PostgreSQL and a private Redis, plus an in-process app
    on the same database for bootstrap and for reading what was stored."""

    app: Flask
    redis: PrivateRedis
    env: dict[str, str]
    logs: Path
    base_url: str = ""
    processes: list[ObsykProcess] = field(default_factory=list)

    def start(self, name: str, *args: str) -> ObsykProcess:
        process = ObsykProcess(name, list(args), self.env, self.logs)
        self.processes.append(process)
        return process

    def serve(self) -> ObsykProcess:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        server = self.start(
            "serve", "serve", "--port", str(port), "--workers", "2", "--threads", "4"
        )
        wait_for_port(port, timeout=60)
        return server

    def start_with_health(self, command: str, *args: str) -> ObsykProcess:
        """``obsyk worker`` or ``obsyk scheduler`` writing its health file (see :meth:`health`)."""
        health_file = self.logs / f"{command}.health.json"
        return self.start(command, command, *args, "--health-file", str(health_file))

    def health(self, command: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((self.logs / f"{command}.health.json").read_text())
        return document


@pytest.fixture
def deployment(tmp_path: Path, postgres_url: str) -> Iterator[Deployment]:
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    # In-process: migrates the database once, before any process starts.
    app = create_app(postgres_config(tmp_path, postgres_url, redis.url, ""))
    env = {
        **os.environ,
        "OBSYK_DATABASE_URL": postgres_url,
        "OBSYK_REDIS_URL": redis.url,
        "OBSYK_QUEUE_NAME": get_state(app).settings.queue_name,  # one queue with the app's
        "OBSYK_PUBLIC_URL": PUBLIC_URL,
        "OBSYK_SECRET_KEY": secrets.token_urlsafe(32),
        "OBSYK_INSTANCE_PATH": str(tmp_path / "instance"),
        "OBSYK_AUTO_MIGRATE": "false",
    }
    deployed = Deployment(app, redis, env, tmp_path / "logs")
    try:
        yield deployed
    finally:
        for process in deployed.processes:
            process.stop()
        close_app(app)
        redis.kill()


class Operator:
    """Posts like an operator does: 5xx and lost connections are retried, 4xx are bugs.

    Waits are shorter than ``Retry-After`` to keep the test short; what it
    keeps is what the platform acknowledged.
    """

    def __init__(self, base_url: str, keys: ClusterKeys) -> None:
        self.base_url = base_url
        self.keys = keys
        self.cluster_uid = str(uuid.uuid4())
        self.session = requests.Session()
        self.token = ""
        self.token = self._call("/oauth/token", form=self._grant()).json()["access_token"]

    def _grant(self) -> dict[str, str]:
        return {
            "grant_type": JWT_BEARER,
            "assertion": assertion(self.keys.private_key_pem, self.keys.client_id),
        }

    def post(self, endpoint: str, body: dict[str, Any]) -> requests.Response:
        return self._call(f"/api/v1/agent/{endpoint}", body=body)

    def _call(
        self, path: str, *, body: dict[str, Any] | None = None, form: dict[str, str] | None = None
    ) -> requests.Response:
        deadline = time.monotonic() + 90
        while True:
            try:
                response = self.session.post(
                    self.base_url + path,
                    json=body,
                    data=form,
                    headers={"Authorization": f"Bearer {self.token}"} if self.token else {},
                    timeout=20,
                )
            except requests.ConnectionError:
                response = None
            if response is not None and response.status_code < 500:
                assert response.status_code < 300, (path, response.status_code, response.text)
                return response
            if response is not None:
                assert response.status_code == 503, (path, response.status_code, response.text)
                assert "Retry-After" in response.headers
            assert time.monotonic() < deadline, f"{path} failed for 90 s"
            time.sleep(0.2)
            if form is not None:
                form = self._grant()  # a retried grant needs a fresh jti


@dataclass
class Acknowledged:
    """Everything the platform answered 2xx to, while the stream ran."""

    snapshots: list[tuple[str, set[str]]] = field(default_factory=list)
    #: Final chunks acknowledged without their job queued (Redis down).
    unqueued_finals: int = 0
    pods: set[str] = field(default_factory=set)
    heartbeats: int = 0
    rounds: int = 0


def stream(operator: Operator, stop: threading.Event, acknowledged: Acknowledged) -> None:
    """Rounds of: a 3-chunk snapshot of namespaces, a 10-event batch of pods, one event, a
    heartbeat.  Snapshots carry only namespaces, so they never sweep the pods of events."""
    uid = operator.cluster_uid
    while not stop.is_set():
        number = acknowledged.rounds
        snapshot_id = f"snap-{number}-{uuid.uuid4().hex[:6]}"
        names = {f"ns-{number}-{index}" for index in range(6)}
        ordered = sorted(names)
        for chunk in range(3):
            answer = operator.post(
                "snapshot",
                {
                    "cluster_uid": uid,
                    "snapshot_id": snapshot_id,
                    "chunk": chunk,
                    "final": chunk == 2,
                    "namespaces": [
                        {"uid": n, "name": n} for n in ordered[chunk * 2 : chunk * 2 + 2]
                    ],
                },
            )
            assert answer.status_code == 202
            if chunk == 2 and not answer.json()["queued"]:
                acknowledged.unqueued_finals += 1
        acknowledged.snapshots.append((snapshot_id, names))
        batch = [pod(f"pod-{number}-{index}", f"pod-{number}-{index}") for index in range(10)]
        events = [event(None, "added", "Pod", record) for record in batch]
        operator.post("events", {"cluster_uid": uid, "events": events})
        acknowledged.pods |= {record["uid"] for record in batch}
        single = pod(f"pod-{number}-single", f"pod-{number}-single")
        operator.post("events", event(uid, "added", "Pod", single))
        acknowledged.pods.add(single["uid"])
        operator.post("heartbeat", {"cluster_uid": uid, "agent_version": "test"})
        acknowledged.heartbeats += 1
        acknowledged.rounds += 1


def running(deployment: Deployment, *names: str) -> bool:
    """Each named process's scheduling loop reported ``running``."""
    try:
        return all(deployment.health(name)["state"] == "running" for name in names)
    except FileNotFoundError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition``; the seconds it took to hold."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what} not within {timeout} s"
        time.sleep(0.25)
    return time.monotonic() - started


def all_applied(app: Flask, cluster_id: str, acknowledged: Acknowledged) -> bool:
    """Every acknowledged snapshot applied (nothing of it staged) and every pod stored."""
    storage = get_state(app).storage
    if any(storage.staged_chunks(cluster_id, sid) for sid, _ in acknowledged.snapshots):
        return False
    inventory = stored_inventory(app, cluster_id)
    applied = all(names <= set(inventory) for _, names in acknowledged.snapshots)
    return applied and acknowledged.pods <= set(inventory)


def test_redis_killed_and_restarted_under_traffic_loses_nothing_acknowledged(
    deployment: Deployment,
) -> None:
    keys = new_cluster(deployment.app, new_org(deployment.app))
    deployment.serve()
    worker = deployment.start_with_health("worker", "--with-scheduler")
    scheduler = deployment.start_with_health("scheduler")
    wait_until(lambda: running(deployment, "worker", "scheduler"), 60, "schedulers running")
    operator = Operator(deployment.base_url, keys)
    acknowledged, stop = Acknowledged(), threading.Event()
    streamer = threading.Thread(target=stream, args=(operator, stop, acknowledged), daemon=True)
    streamer.start()

    wait_until(lambda: acknowledged.rounds >= 2, 60, "two rounds before the outage")
    deployment.redis.kill()
    before_outage = acknowledged.rounds
    wait_until(lambda: acknowledged.rounds >= before_outage + 3, 60, "three rounds in the outage")
    time.sleep(8)  # several retries of every loop: each must still log the outage once
    deployment.redis.restart()
    after_outage = acknowledged.rounds
    wait_until(lambda: acknowledged.rounds >= after_outage + 2, 60, "two rounds after the outage")
    stop.set()
    streamer.join(60)

    assert acknowledged.unqueued_finals >= 2  # staged and answered 202 while Redis was down
    wait_until(
        lambda: all_applied(deployment.app, keys.cluster.id, acknowledged),
        30,
        "every acknowledged change in the inventory",
    )
    inventory = stored_inventory(deployment.app, keys.cluster.id)
    live_namespaces = {
        uid for uid, (kind, _, live) in inventory.items() if kind == "Namespace" and live
    }
    assert live_namespaces == acknowledged.snapshots[-1][1]  # the latest snapshot wins
    assert all(inventory[uid][2] for uid in acknowledged.pods)
    cluster = get_state(deployment.app).storage.get_cluster(keys.cluster.org_id, keys.cluster.id)
    assert cluster is not None and cluster.agent_version == "test"

    assert all(process.alive() for process in deployment.processes)
    # The loop reports "running" at the end of the turn that queued the recovery,
    # which the worker may well have run by then.
    wait_until(lambda: running(deployment, "worker", "scheduler"), 10, "schedulers running")
    for name, process in (("worker", worker), ("scheduler", scheduler)):
        health = deployment.health(name)
        assert health["restarts"] == 0
        assert time.time() - health["beat_at"] < 15
        output = process.output()
        assert output.count(OUTAGE_STARTS) == 1, output  # once per outage, not per attempt
        assert output.count(OUTAGE_ENDS) == 1, output
    assert scheduler.stop() == 0 and worker.stop() == 0  # SIGTERM still ends them cleanly


def test_the_worker_thread_outlives_a_40_second_outage_and_recovers_at_once(
    deployment: Deployment,
) -> None:
    keys = new_cluster(deployment.app, new_org(deployment.app))
    deployment.serve()
    worker = deployment.start_with_health("worker", "--with-scheduler")
    operator = Operator(deployment.base_url, keys)
    wait_until(lambda: running(deployment, "worker"), 60, "scheduler running")

    def chunked(snapshot_id: str, names: list[str]) -> list[bool]:
        """Post a 2-chunk snapshot of namespaces; whether its job was queued."""
        queued = []
        for chunk in range(2):
            part = names[chunk::2]
            body = {
                "cluster_uid": operator.cluster_uid,
                "snapshot_id": snapshot_id,
                "chunk": chunk,
                "final": chunk == 1,
                "namespaces": [{"uid": n, "name": n} for n in part],
            }
            queued.append(operator.post("snapshot", body).json()["queued"])
        return queued

    # Queued while the worker is frozen, then lost with Redis: the job was in Redis.
    worker.pause()
    assert chunked("lost-with-redis", ["a", "b"]) == [False, True]
    deployment.redis.kill()
    worker.resume()
    outage_started = time.monotonic()
    # Acknowledged during the outage: the job never reached Redis.
    assert chunked("never-queued", ["a", "c", "d"]) == [False, False]

    time.sleep(20)
    midway = deployment.health("worker")
    assert midway["state"] == "redis_unreachable"
    assert time.time() - midway["beat_at"] < 10  # the thread is alive, not hung
    time.sleep(max(0.0, 40 - (time.monotonic() - outage_started)))
    assert worker.alive()
    deployment.redis.restart()

    storage = get_state(deployment.app).storage
    took = wait_until(
        lambda: (
            not any(
                storage.staged_chunks(keys.cluster.id, sid)
                for sid in ("lost-with-redis", "never-queued")
            )
            and {"a", "b", "c", "d"} <= set(stored_inventory(deployment.app, keys.cluster.id))
        ),
        20,
        "the snapshots staged around the outage applied",
    )
    assert took < 15
    wait_until(lambda: running(deployment, "worker"), 10, "scheduler running")
    assert deployment.health("worker")["restarts"] == 0
    output = worker.output()
    assert output.count(OUTAGE_STARTS) == 1, output
    assert output.count(OUTAGE_ENDS) == 1, output
    assert worker.stop() == 0


#: What ``obsyk worker`` logs when rq quit under it and it starts a new worker.
WORKER_STOPPED = "the RQ worker stopped ("


def worker_losing_redis_mid_job(deployment: Deployment) -> tuple[ObsykProcess, Path]:
    """``obsyk worker`` whose Redis died while a job ran; returns it and the markers' folder.

    rq waits for Redis while it waits for a job, but quits when Redis fails
    while it files a job's result: ``obsyk worker`` then starts new workers
    in the same process until one holds.
    """
    deployment.env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parent), deployment.env.get("PYTHONPATH", "")]
    )
    worker = deployment.start("worker", "worker")
    markers = deployment.logs / "markers"
    markers.mkdir()
    get_state(deployment.app).jobs.enqueue(slow_job, 3.0, str(markers / "first"))
    wait_until((markers / "first.started").exists, 60, "the first job started")
    deployment.redis.kill()
    wait_until((markers / "first").exists, 10, "the first job's own work done")
    wait_until(lambda: WORKER_STOPPED in worker.output(), 10, "rq quit under the worker")
    return worker, markers


def test_a_worker_whose_redis_dies_mid_job_starts_afresh_without_a_process_restart(
    deployment: Deployment,
) -> None:
    worker, markers = worker_losing_redis_mid_job(deployment)
    time.sleep(3)  # a few attempts to start a new worker fail
    deployment.redis.restart()

    get_state(deployment.app).jobs.enqueue(slow_job, 0.0, str(markers / "second"))
    took = wait_until((markers / "second").exists, 20, "a job queued after the outage ran")

    assert worker.alive()
    assert took < 10
    output = worker.output()
    assert output.count(WORKER_STOPPED) == 1, output  # logged once, not per retry
    assert worker.stop() == 0


def test_sigterm_ends_a_worker_waiting_to_start_again_cleanly(deployment: Deployment) -> None:
    # rq's signal handlers outlive the worker that Redis failed under: the
    # signal must end the process, not run that worker's shutdown against Redis.
    worker, _ = worker_losing_redis_mid_job(deployment)

    started = time.monotonic()
    assert worker.stop() == 0
    assert time.monotonic() - started < 10
    assert "Traceback" not in worker.output().split(WORKER_STOPPED)[-1]
