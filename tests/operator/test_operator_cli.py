"""``obsyk-operator run``: configuration from flags and environment, one-line start-up errors."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import structlog
from fake_platform import FakePlatform

from obsyk_operator import cli
from obsyk_operator.operator import Operator
from obsyk_operator.testing.kube_server import KubeServer


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def run_args(platform_url: str, kubeconfig: Path, key_file: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--platform-url",
        platform_url,
        "--client-id",
        "client-1",
        "--private-key-file",
        str(key_file),
        "--cluster-name",
        "prod",
        "--kubeconfig",
        str(kubeconfig),
        "--health-port",
        "0",
        "--metrics-port",
        "0",
        *extra,
    ]


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("obsyk")]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def key_file(platform: FakePlatform, tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    path.write_text(platform.private_key_pem)
    return path


def test_missing_key_file_is_one_clear_line(
    platform: FakePlatform, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(run_args(platform.url, kubeconfig, tmp_path / "nope.pem"))
    assert code == 2
    assert "cannot read the private key file" in one_line_error(capsys)


def test_malformed_key_is_one_clear_line(
    platform: FakePlatform, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN EC PRIVATE KEY-----\nnot a key\n-----END EC PRIVATE KEY-----\n")
    assert cli.main(run_args(platform.url, kubeconfig, bad)) == 2
    assert "not a valid EC PEM key" in one_line_error(capsys)


def test_plain_http_to_a_remote_host_is_refused(
    kubeconfig: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(run_args("http://obsyk.example.com", kubeconfig, key_file)) == 2
    assert "--allow-insecure-http" in one_line_error(capsys)


def test_unreachable_api_server_is_one_clear_line(
    platform: FakePlatform, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nobody listens
    dead = KubeServer()
    dead._httpd = type("Bound", (), {"server_address": ("127.0.0.1", port)})()  # type: ignore[assignment]
    kubeconfig = dead.write_kubeconfig(tmp_path / "dead-kubeconfig")
    assert cli.main(run_args(platform.url, kubeconfig, key_file)) == 2
    assert "cannot read the kube-system namespace" in one_line_error(capsys)


def test_platform_rejecting_the_credential_is_one_clear_line(
    platform: FakePlatform, kubeconfig: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform.client_id = "someone-else"
    assert cli.main(run_args(platform.url, kubeconfig, key_file)) == 2
    assert "rejected client 'client-1'" in one_line_error(capsys)


def test_every_flag_can_come_from_the_environment(
    platform: FakePlatform,
    kube: KubeServer,
    kubeconfig: Path,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "PLATFORM_URL": platform.url,
        "CLIENT_ID": "client-1",
        "PRIVATE_KEY_FILE": str(key_file),
        "CLUSTER_NAME": "from-env",
        "KUBECONFIG": str(kubeconfig),
        "KINDS": "Pod,namespaces",
        "HEALTH_PORT": "0",
        "METRICS_PORT": "0",
        "HEARTBEAT_INTERVAL": "30s",
    }.items():
        monkeypatch.setenv(f"OBSYK_{name}", value)
    args = cli.build_parser().parse_args(["run"])
    assert args.heartbeat_interval == 30.0
    stop = threading.Event()
    worker = threading.Thread(target=cli.run, args=(args,), kwargs={"stop": stop})
    worker.start()
    try:
        platform.wait_for(lambda: platform.bodies("/snapshot"))
    finally:
        stop.set()
        worker.join(10)
    [snapshot] = platform.bodies("/snapshot")
    assert snapshot["cluster_name"] == "from-env"
    metadata = {"cluster_uid", "cluster_name", "agent_version", "kubernetes_version"}
    assert set(snapshot) - metadata == {
        "pods",
        "namespaces",
    }


def test_credentials_from_a_secret(
    platform: FakePlatform, kube: KubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    import base64

    kube.add(
        "secrets",
        {
            "metadata": {"name": "obsyk-credentials", "namespace": "obsyk-system"},
            "data": {
                "client_id": base64.b64encode(b"client-1").decode(),
                "private_key": base64.b64encode(platform.private_key_pem.encode()).decode(),
            },
        },
    )
    args = cli.build_parser().parse_args(
        [
            "run",
            "--platform-url",
            platform.url,
            "--credentials-secret",
            "obsyk-credentials",
            "--cluster-name",
            "c",
            "--kubeconfig",
            str(kubeconfig),
        ]
    )
    settings = cli.settings_from_args(args)
    assert settings.platform.client_id == "client-1"
    assert "PRIVATE KEY" in settings.platform.private_key_pem


def test_health_and_metrics_endpoints(
    platform: FakePlatform, kube: KubeServer, start_operator: object
) -> None:
    from test_operator_sync import pod

    kube.add("pods", pod("counted"))
    operator = start_operator(health_port=0, metrics_port=0)  # type: ignore[operator]
    platform.wait_for(operator.ready.is_set)
    health, metrics = (f"http://127.0.0.1:{s.port}" for s in operator.servers)
    assert requests.get(f"{health}/readyz", timeout=5).status_code == 200
    platform.stop()  # the platform being down is not the operator being dead
    assert requests.get(f"{health}/healthz", timeout=5).status_code == 200
    text = requests.get(f"{metrics}/metrics", timeout=5).text
    assert 'obsyk_operator_objects{kind="Pod"} 1.0' in text
    assert "obsyk_operator_seconds_since_last_heartbeat" in text
    assert "obsyk_operator_send_seconds_bucket" in text


def test_library_log_records_are_json_lines_too(capsys: pytest.CaptureFixture[str]) -> None:
    """urllib3's and the kubernetes client's standard-library records: the same JSON lines."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers.clear()  # as in a fresh process (pytest installs its own)
    try:
        cli.configure_logging("info")
        pool = logging.getLogger("urllib3.connectionpool")
        pool.warning("Connection pool is full, discarding connection: %s", "10.0.0.1")
        structlog.get_logger("obsyk_operator.test").info("operator stopped")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["level"], line["event"]) for line in lines] == [
        ("warning", "Connection pool is full, discarding connection: 10.0.0.1"),
        ("info", "operator stopped"),
    ]
    assert lines[0]["logger"] == "urllib3.connectionpool" and "timestamp" in lines[0]


def test_watching_every_kind_keeps_its_connections_in_the_pool(
    platform: FakePlatform,
    kube: KubeServer,
    start_operator: Callable[..., Operator],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A watch per kind (20) outnumbers the client's default pool (5 per CPU): sized for them."""
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        operator = start_operator(kinds=None)
        platform.wait_for(lambda: platform.bodies("/snapshot"))
        assert len(operator.watchers) == 20
        operator.stop()

    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
