"""/healthz, /readyz and /metrics in one process, and the request id on every answer."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from agent_wire import Agent, new_cluster_uid, pod
from app_support import (
    drain_jobs,
    embedded_config,
    new_cluster,
    new_org,
    postgres_config,
    request_access_token,
)
from flask import Flask
from flask.testing import FlaskClient
from outages import PrivateRedis, SilentProxy
from prometheus_client.parser import text_string_to_metric_families

from reference_app import create_app
from reference_app.app import close_app
from reference_app.state import get_state


def scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` by (name, sorted labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def agent(app: Flask, client: FlaskClient, make_org, make_cluster, agent_token) -> Agent:
    keys = make_cluster(make_org())
    return Agent(client, agent_token(keys), new_cluster_uid(), keys.cluster.id, keys.cluster.org_id)


def test_healthz_answers_without_credentials(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_checks_each_configured_dependency(app: Flask, client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    checks = response.get_json()["checks"]
    with_redis = bool(app.extensions["obsyk"].settings.redis_url)
    assert checks == ({"database": "ok", "redis": "ok"} if with_redis else {"database": "ok"})


def _app_on_redis(tmp_path: Path, postgres_url: str, redis_url: str) -> Flask:
    return create_app(
        postgres_config(
            tmp_path, postgres_url, redis_url, "readyz:", READINESS_TIMEOUT_SECONDS="0.5"
        )
    )


@pytest.mark.postgres
def test_readyz_is_503_with_the_reason_when_redis_is_down(
    tmp_path: Path, postgres_url: str, redis_server: PrivateRedis
) -> None:
    app = _app_on_redis(tmp_path, postgres_url, redis_server.url)
    try:
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        redis_server.kill()
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        body = response.get_json()
        assert body["code"] == "not_ready" and body["status"] == 503
        assert body["message"].startswith("Not ready: redis ConnectionError")
        assert set(body["errors"]) == {"redis"}, "the database still answers"
    finally:
        close_app(app)


@pytest.mark.postgres
def test_readyz_gives_up_on_a_silent_redis_within_the_timeout(
    tmp_path: Path, postgres_url: str, redis_server: PrivateRedis
) -> None:
    proxy = SilentProxy(redis_server.port)
    app = _app_on_redis(tmp_path, postgres_url, f"redis://127.0.0.1:{proxy.port}/0")
    try:
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        proxy.go_silent()
        for _ in range(2):  # the second probe finds the first check still stuck
            started = time.monotonic()
            response = client.get("/readyz")
            assert time.monotonic() - started < 2.0
            assert response.status_code == 503
            assert response.get_json()["errors"] == {"redis": ["did not answer within 0.5 s"]}
    finally:
        proxy.close()
        close_app(app)


def test_metrics_count_requests_changes_and_clusters(
    app: Flask, client: FlaskClient, agent: Agent
) -> None:
    before = scrape(client)
    response = agent.snapshot(pods=[pod("p1", "a"), pod("p2", "b")], services=[])
    assert response.status_code == 200
    assert agent.snapshot(pods=[pod("p1", "a")]).status_code == 200
    client.get("/api/v1/clusters/no-such-cluster")
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = "/api/v1/agent/snapshot"
    assert delta("obsyk_http_requests_total", route=route, method="POST", status="200") == 2
    assert delta("obsyk_http_request_duration_seconds_count", route=route, method="POST") == 2
    # The URL rule, never the raw path: one series per route whatever the ids.
    assert delta(
        "obsyk_http_requests_total", route="/api/v1/clusters/<cluster_id>", method="GET",
        status="401",
    ) == 1  # fmt: skip
    assert delta("obsyk_ingested_changes_total", kind="Pod", change="added") == 2
    assert delta("obsyk_ingested_changes_total", kind="Pod", change="deleted") == 1
    assert delta("obsyk_snapshot_reconcile_seconds_count", path="inline") == 2
    assert value(after, "obsyk_clusters", status="connected") >= 1


@pytest.mark.postgres
@pytest.mark.redis
def test_metrics_report_queue_depth_failures_and_staged_reconciles(postgres_app: Flask) -> None:
    app = postgres_app
    client = app.test_client()
    keys = new_cluster(app, new_org(app))
    agent = Agent(client, request_access_token(client, keys), new_cluster_uid())
    queue = get_state(app).jobs.queue  # type: ignore[attr-defined]
    staged_before = value(scrape(client), "obsyk_snapshot_reconcile_seconds_count", path="staged")
    body = {"snapshot_id": "s1", "chunk": 0, "final": True, "pods": [pod("p1", "a")]}
    assert agent.post("snapshot", {"cluster_uid": agent.cluster_uid, **body}).status_code == 202
    samples = scrape(client)
    assert value(samples, "obsyk_queue_depth", queue=queue.name) == 1
    assert value(samples, "obsyk_snapshot_staging_seconds_count") >= 1
    drain_jobs(app)
    queue.enqueue("reference_app.no_such_module.job")  # fails: nothing to import
    drain_jobs(app)
    samples = scrape(client)
    assert value(samples, "obsyk_queue_depth", queue=queue.name) == 0
    assert value(samples, "obsyk_queue_failed_jobs", queue=queue.name) == 1
    staged = value(samples, "obsyk_snapshot_reconcile_seconds_count", path="staged")
    assert staged == staged_before + 1


def test_every_answer_carries_a_request_id(client: FlaskClient) -> None:
    first, second = client.get("/healthz"), client.get("/healthz")
    assert len(first.headers["X-Request-ID"]) == 32
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    given = client.get("/healthz", headers={"X-Request-ID": "lb-1234.abc"})
    assert given.headers["X-Request-ID"] == "lb-1234.abc"
    # An id that could forge a log line is replaced, not echoed.
    forged = client.get("/healthz", headers={"X-Request-ID": 'x" level=error'})
    assert len(forged.headers["X-Request-ID"]) == 32


def test_access_log_is_one_line_per_request_and_can_be_turned_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for enabled in (True, False):
        app = create_app(embedded_config(tmp_path / str(enabled), ACCESS_LOG=str(enabled)))
        try:
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="obsyk.access"):
                app.test_client().get("/healthz?token=secret")
            lines = [r for r in caplog.records if r.name == "obsyk.access"]
            if not enabled:
                assert lines == []
                continue
            [line] = lines
            assert (line.method, line.path, line.route, line.status) == (  # type: ignore[attr-defined]
                "GET", "/healthz", "/healthz", 200,
            )  # fmt: skip
            assert "secret" not in repr(line.__dict__), "query strings never reach the log"
        finally:
            close_app(app)


@pytest.mark.postgres
@pytest.mark.redis
def test_every_metric_the_dashboards_may_query_is_exported(postgres_app: Flask) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from reference_app.metrics import METRIC_NAMES

    body = postgres_app.test_client().get("/metrics").get_data(as_text=True)
    families = {family.name for family in text_string_to_metric_families(body)}
    # The parser names a counter family without its _total suffix.
    assert {name.removesuffix("_total") for name in METRIC_NAMES} <= families


@pytest.mark.postgres
@pytest.mark.redis
def test_a_jobs_log_lines_carry_its_id(postgres_app: Flask) -> None:
    import structlog

    queue = get_state(postgres_app).jobs.queue  # type: ignore[attr-defined]
    # The job reports the logging context it runs in: what its log lines would carry.
    job = queue.enqueue(structlog.contextvars.get_contextvars)
    drain_jobs(postgres_app)
    context = job.return_value()
    assert context["job_id"] == job.id
    assert context["job"] == "structlog.contextvars.get_contextvars"
    assert "job_id" not in structlog.contextvars.get_contextvars(), "unbound after the job"
