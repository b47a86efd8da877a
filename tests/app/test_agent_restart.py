"""An app restart in the middle of a stream loses nothing.

The first app ingests (a snapshot, events, the first chunks of a chunked
snapshot) and is disposed of; a second app on the same database (and the
same instance folder, hence the same secret key) takes the rest of the
stream with the operator's existing access token.
"""

from __future__ import annotations

from typing import Any

from agent_wire import Agent, User, new_cluster_uid, pod
from flask import Flask

from reference_app import create_app
from reference_app.app import close_app
from reference_app.jobs.queue import RqJobQueue, ThreadJobQueue
from reference_app.jobs.worker import make_worker
from reference_app.state import get_state


def _same_deployment(app: Flask) -> dict[str, Any]:
    """The config of another process of the same deployment as ``app``."""
    settings = get_state(app).settings
    return {
        "TESTING": True,
        "INSTANCE_PATH": app.instance_path,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "QUEUE_NAME": settings.queue_name,
        "PUBLIC_URLS": settings.public_urls,
        "PERIODIC_JOBS": False,
    }


def test_restart_mid_stream_loses_nothing(
    app: Flask, make_org, make_cluster, make_user_token, agent_token, run_jobs
) -> None:
    org = make_org()
    keys = make_cluster(org)
    token = agent_token(keys)
    user_token = make_user_token(org, "viewer")
    cluster_uid = new_cluster_uid()

    first = Agent(app.test_client(), token, cluster_uid)
    assert first.snapshot(pods=[pod("p1", "a"), pod("p2", "b")]).status_code == 200
    assert first.event("modified", "Pod", pod("p1", "a", phase="Running")).status_code == 200
    chunk0 = {"cluster_uid": cluster_uid, "snapshot_id": "s1", "chunk": 0, "final": False,
              "pods": [pod("p1", "a", phase="Running"), pod("p3", "c")]}  # fmt: skip
    assert first.post("snapshot", chunk0).status_code == 202

    config = _same_deployment(app)
    run_jobs()
    close_app(app)
    restarted = create_app(config)
    try:
        client = restarted.test_client()
        second = Agent(client, token, cluster_uid)
        chunk1 = {"cluster_uid": cluster_uid, "snapshot_id": "s1", "chunk": 1, "final": True,
                  "services": [{"uid": "s1", "name": "svc", "namespace": "default"}]}  # fmt: skip
        assert second.post("snapshot", chunk1).status_code == 202
        assert second.event("added", "Pod", pod("p4", "d")).status_code == 200
        _drain(restarted)

        user = User(client, user_token)
        live = user.all_resources(f"/api/v1/clusters/{keys.cluster.id}/resources")
        assert {(i["kind"], i["uid"]) for i in live} == {
            ("Pod", "p1"), ("Pod", "p3"), ("Pod", "p4"), ("Service", "s1"),
        }  # fmt: skip
        p1 = next(i for i in live if i["uid"] == "p1")
        assert p1["object"]["phase"] == "Running"
        history = user.get(f"/api/v1/clusters/{keys.cluster.id}/resources/p2/history")
        assert [v["change"] for v in history.get_json()["items"]] == ["added", "deleted"]
    finally:
        close_app(restarted)


def _drain(app: Flask) -> None:
    """Run the restarted app's queued jobs (the ``run_jobs`` fixture is bound to the first app)."""
    jobs = get_state(app).jobs
    if isinstance(jobs, ThreadJobQueue):
        assert jobs.wait_idle(30)
        return
    assert isinstance(jobs, RqJobQueue)
    with app.app_context():
        make_worker(app).work(burst=True)
