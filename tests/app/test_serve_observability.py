"""``obsyk serve`` with several gunicorn workers: /readyz, /metrics summed over workers, logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from outages import PrivateRedis, free_port, wait_for_port
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

WORKERS = 3


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def served(tmp_path: Path, postgres_url: str, redis_server: PrivateRedis) -> Iterator[dict]:
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")  # a previous run's leftovers
    env = {
        **os.environ,
        "OBSYK_DATABASE_URL": postgres_url,
        "OBSYK_REDIS_URL": redis_server.url,
        "OBSYK_SECRET_KEY": "test-secret-key-for-serve",
        "OBSYK_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "OBSYK_INSTANCE_PATH": str(tmp_path / "instance"),
        "OBSYK_READINESS_TIMEOUT_SECONDS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    # The logs go to stderr; stdout has the start-up banner for a person.
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", "from reference_app.cli import main; main()", "serve",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS), "--threads", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=60)
        yield {
            "url": f"http://127.0.0.1:{port}",
            "metrics_dir": metrics_dir,
            "log": tmp_path / "serve.log",
            "redis": redis_server,
        }
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _healthz_count(url: str) -> float:
    status, body = get(f"{url}/metrics")
    assert status == 200
    total = 0.0
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "obsyk_http_requests_total" and sample.labels["route"] == "/healthz":
                total += sample.value
    return total


def test_metrics_add_up_every_worker_and_readyz_follows_redis(served: dict) -> None:
    url = served["url"]
    assert not (served["metrics_dir"] / "counter_999999.db").exists(), "stale samples cleared"
    requests = 0
    for batch in range(2):
        for _ in range(20):
            status, _ = get(f"{url}/healthz", {"X-Request-ID": f"probe-{requests}"})
            assert status == 200
            requests += 1
        writers = sorted(served["metrics_dir"].glob("counter_*.db"))
        if batch == 0:
            # Kill a worker that answered: gunicorn starts another, and the dead one's
            # counts must still be in the sum (its file stays).
            os.kill(int(writers[0].stem.split("_")[1]), signal.SIGKILL)
    # Each worker writes its own file; a scrape of any one of them sums them all.
    assert len(writers) >= 2, writers
    for _ in range(WORKERS + 1):
        assert _healthz_count(url) == requests

    status, body = get(f"{url}/readyz")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok", "redis": "ok"}
    served["redis"].kill()
    status, body = get(f"{url}/readyz")
    assert status == 503
    assert json.loads(body)["message"].startswith("Not ready: redis ")

    # One JSON object per line, the access line carrying the caller's request id.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in served["log"].read_text().splitlines() if line]
        access = [line for line in lines if line.get("logger") == "obsyk.access"]
        if any(line.get("request_id") == "probe-7" for line in access):
            break
        time.sleep(0.1)
    [line] = [line for line in access if line.get("request_id") == "probe-7"]
    assert (line["event"], line["route"], line["status"], line["level"]) == (
        "request", "/healthz", 200, "info",
    )  # fmt: skip
