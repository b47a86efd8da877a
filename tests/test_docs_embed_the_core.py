"""docs/how-to/embed-the-core.md: its service, run as a process, does what the guide says.

The service is the guide's one ``python`` block, written to a file and run
with the project's interpreter; it must import nothing but ``obsyk_core`` (and
the standard library), and it is exercised with the guide's requests.
"""

from __future__ import annotations

import ast
import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "how-to" / "embed-the-core.md"
SERVICE = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def service(tmp_path: Path) -> Iterator[str]:
    script = tmp_path / "inventory_service.py"
    script.write_text(SERVICE)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(script), str(port), f"sqlite:///{tmp_path / 'inventory.db'}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/resources", timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _call(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_the_service_imports_only_obsyk_core_and_the_standard_library() -> None:
    imported = set()
    for node in ast.walk(ast.parse(SERVICE)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - sys.stdlib_module_names == {"obsyk_core"}


def test_the_guides_requests_give_the_guides_answers(service: str) -> None:
    pod = {"uid": "p1", "name": "web-1", "namespace": "shop", "labels": {"app": "web"}}
    other = {"uid": "p2", "name": "db-0", "namespace": "shop", "labels": {"app": "db"}}

    status, answer = _call(
        "POST", f"{service}/snapshot", {"cluster_uid": "c1", "pods": [pod, other]}
    )
    assert (status, answer) == (200, {"added": 2, "modified": 0, "deleted": 0, "ignored_kinds": []})
    status, listed = _call("GET", f"{service}/resources?kind=Pod&selector=app%3Dweb")
    assert [item["name"] for item in listed] == ["web-1"]
    time.sleep(0.2)
    before_delete = quote(datetime.now(UTC).isoformat())
    time.sleep(0.2)

    deleted = {"cluster_uid": "c1", "type": "deleted", "kind": "Pod", "uid": "p1",
               "name": "web-1", "namespace": "shop"}  # fmt: skip
    assert _call("POST", f"{service}/events", deleted)[1]["deleted"] == 1
    assert _call("GET", f"{service}/resources?kind=Pod&selector=app%3Dweb")[1] == []
    # The inventory as it was, and the resource's history.
    then = _call("GET", f"{service}/resources?kind=Pod&as_of={before_delete}")[1]
    assert sorted(item["name"] for item in then) == ["db-0", "web-1"]
    history = _call("GET", f"{service}/history?uid=p1")[1]
    assert [version["change"] for version in history] == ["added", "deleted"]


def test_unknown_kinds_are_skipped_and_bad_bodies_refused_by_path(service: str) -> None:
    # A kind no installed plugin declares (whatever else is installed beside Obsyk).
    body = {"cluster_uid": "c1", "pods": [], "widgets": [{"uid": "x", "name": "x"}]}
    assert _call("POST", f"{service}/snapshot", body)[1]["ignored_kinds"] == ["widgets"]

    status, refused = _call("POST", f"{service}/snapshot", {"cluster_uid": "c1", "pods": [{}]})
    assert status == 422 and set(refused["errors"]) == {"pods.0.uid", "pods.0.name"}
    status, wrong = _call("GET", f"{service}/resources?selector=app%20in%20(web")
    assert status == 400 and "unbalanced" in wrong["error"]
