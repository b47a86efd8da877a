"""docs/operator.md's "Try it locally", run command by command as a new user would.

Real processes only: ``obsyk serve`` (the embedded platform), the ``obsyk``
bootstrap commands, the Kubernetes test API server as a command, and
``obsyk-operator run``; the platform's REST API must then show the seeded
cluster, and a Pod created and deleted through the test server's HTTP API.

Run twice: as written, and as the kind-plugin how-to extends it, with the
example plugin (cert-manager ``Certificate``) installed for every process
and the test server serving its CRD (``--crd``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from plugin_dist import EXAMPLES, install_example_plugin

from obsyk_operator.testing.kube_server import KubeServer
from obsyk_operator.testing.local_cluster import Churn, seed

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOC = (DOCS / "operator.md").read_text()
KIND_PLUGIN_HOWTO = (DOCS / "how-to" / "write-a-kind-plugin.md").read_text()
BIN = Path(sys.executable).parent
DEMO_PODS = {
    "coredns-7d4b9c-0",
    "coredns-7d4b9c-1",
    "web-7d4b9c-0",
    "web-7d4b9c-1",
    "web-7d4b9c-2",
    "api-7d4b9c-0",
    "api-7d4b9c-1",
    "prometheus-7d4b9c-0",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Started:
    """A process whose output is read as it comes (a full pipe would stall it) and kept."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for_line(self, marker: str, timeout: float = 30.0) -> None:
        wait_until(
            lambda: any(marker in line for line in self.lines) or self.process.poll() is not None,
            f"{marker!r} printed",
            timeout,
        )
        assert any(marker in line for line in self.lines), "".join(self.lines)[-3000:]


class Processes:
    """Started processes, each stopped (SIGTERM, then SIGKILL) at the end of the test."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env
        self.started: list[Started] = []

    def start(self, *args: str) -> Started:
        process = subprocess.Popen(
            args,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.started.append(Started(process))
        return self.started[-1]

    def run_json(self, *args: str) -> dict[str, Any]:
        done = subprocess.run(
            args, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def stop_all(self) -> None:
        for started in reversed(self.started):
            started.process.terminate()
            try:
                started.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                started.process.kill()
                started.process.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    env = {**os.environ, "OBSYK_INSTANCE_PATH": str(tmp_path / "instance")}
    for name in ("OBSYK_DATABASE_URL", "OBSYK_REDIS_URL", "OBSYK_PUBLIC_URL"):
        env.pop(name, None)
    running = Processes(tmp_path, env)
    yield running
    running.stop_all()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what}")


def http(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.mark.parametrize("kind_plugin", [False, True], ids=["as-written", "with-kind-plugin"])
def test_the_try_it_locally_tutorial_works_as_written(
    processes: Processes, tmp_path: Path, kind_plugin: bool
) -> None:
    crd_args: list[str] = []
    if kind_plugin:  # installed for the platform, its CLI and the operator alike
        processes.env["PYTHONPATH"] = str(install_example_plugin(tmp_path / "site"))
        crd_args = ["--crd", str(EXAMPLES / "cert-manager.yaml")]
    platform_port, kube_port = free_port(), free_port()
    platform = f"http://127.0.0.1:{platform_port}"
    kube = f"http://127.0.0.1:{kube_port}"

    # 1. The embedded platform.
    serve = processes.start(str(BIN / "obsyk"), "serve", "--port", str(platform_port))
    serve.wait_for_line("API docs")
    # 2-4. An organization, the cluster's credential (its private key saved), an API token.
    processes.run_json(str(BIN / "obsyk"), "orgs", "create", "demo", "--json")
    registered = processes.run_json(
        str(BIN / "obsyk"), "clusters", "register", "--org", "demo", "--name", "laptop", "--json"
    )
    (tmp_path / "operator-key.pem").write_text(registered["private_key"])
    # The URL the operator must use is the one `obsyk serve` listens on, said to be a guess.
    assert registered["platform_url"] == platform and registered["platform_url_guess"]
    token = processes.run_json(
        str(BIN / "obsyk"),
        "tokens",
        "create",
        "--org",
        "demo",
        "--email",
        "me@example.com",
        "--role",
        "viewer",
        "--json",
    )["token"]
    # 5. The pretend cluster.
    kube_server = processes.start(
        sys.executable,
        "-m",
        "obsyk_operator.testing.kube_server",
        "--port",
        str(kube_port),
        "--kubeconfig",
        "kubeconfig",
        *crd_args,
    )
    kube_server.wait_for_line("kubeconfig written")
    # 6. The operator (the health and metrics servers on free ports: tests run side by side).
    operator = processes.start(
        str(BIN / "obsyk-operator"),
        "run",
        "--platform-url",
        platform,
        "--client-id",
        registered["client_id"],
        "--private-key-file",
        "operator-key.pem",
        "--cluster-name",
        "laptop",
        "--kubeconfig",
        "kubeconfig",
        "--health-port",
        "0",
        "--metrics-port",
        "0",
    )

    # 7. The inventory, through the platform's API.
    def pods() -> set[str]:
        page = http("GET", f"{platform}/api/v1/resources?kind=Pod&limit=100", token=token)
        return {item["name"] for item in page["items"]}

    wait_until(lambda: pods() == DEMO_PODS, "the demo cluster's Pods on the platform")
    assert operator.process.poll() is None
    secret = http(
        "GET", f"{platform}/api/v1/resources?kind=Secret&name=api-credentials", token=token
    )["items"][0]
    assert "not-for-the-platform" not in json.dumps(secret)
    if kind_plugin:
        certificates = http("GET", f"{platform}/api/v1/resources?kind=Certificate", token=token)
        [certificate] = certificates["items"]
        assert (certificate["namespace"], certificate["name"]) == ("shop", "shop-example-com")
        assert certificate["object"]["ready"] is True

    # 8. A change made through the test server's API shows up, and so does its deletion.
    hello = {"metadata": {"name": "hello"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    http("POST", f"{kube}/api/v1/namespaces/shop/pods", hello)
    wait_until(lambda: "hello" in pods(), "the new Pod on the platform")
    http("DELETE", f"{kube}/api/v1/namespaces/shop/pods/hello")
    wait_until(lambda: "hello" not in pods(), "the deleted Pod gone from the platform")


def test_the_tutorial_in_the_docs_uses_these_commands() -> None:
    tutorial = DOC.split("## Try it locally", 1)[1].split("\n## ", 1)[0]
    for command in (
        "obsyk serve",
        "obsyk orgs create demo",
        "obsyk clusters register --org demo --name laptop --json",
        "obsyk tokens create --org demo --email me@example.com --role viewer",
        "python -m obsyk_operator.testing.kube_server --port 6443 --kubeconfig kubeconfig",
        "obsyk-operator run --platform-url http://127.0.0.1:8000",
        "/api/v1/resources?kind=Pod",
        "curl -X POST http://127.0.0.1:6443/api/v1/namespaces/shop/pods",
        "curl -X DELETE http://127.0.0.1:6443/api/v1/namespaces/shop/pods/hello",
    ):
        assert command in tutorial, command
    assert re.search(r"--churn \d", tutorial)


def test_the_kind_plugin_howto_runs_the_tutorial_with_the_plugin() -> None:
    section = KIND_PLUGIN_HOWTO.split("## 7. Try it locally", 1)[1]
    for command in (
        "pip install -e .",
        "python -m obsyk_operator.testing.kube_server --port 6443 --kubeconfig kubeconfig "
        "--crd examples/cert-manager.yaml",
        "/api/v1/resources?kind=Certificate",
        "../operator.md#try-it-locally-no-cluster-needed",
    ):
        assert command in section, command


def test_churn_adds_modifies_and_deletes_a_pod_each_tick() -> None:
    server = KubeServer()
    assert seed(server, "demo") > 20
    said: list[str] = []
    churn = Churn(server, 1.0, threading.Event(), said.append)
    for _ in range(3):
        churn.step()
    shop = {name for ns, name in server.objects[("", "v1", "pods")] if ns == "shop"}
    assert {"churn-2", "churn-3"} <= shop and "churn-1" not in shop
    assert server.get("pods", "churn-2", namespace="shop")["metadata"]["labels"]["tick"] == "3"
    assert said[-1] == "churn: deleted pod shop/churn-1"
