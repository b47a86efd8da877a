"""A LIST of many Pods, pre-serialised into pages, served over HTTP like an API server.

The operator tests' ``obsyk_operator/testing/kube_server.py`` deep-copies, sorts and
``json.dumps`` on every page request, which at 100,000 Pods would cost the
server more than the client work being measured (and count in both paths'
wall time).  Here every page is serialised once, before any measurement, with
the same wire shape (``PodList``, ``metadata.resourceVersion``, an opaque
``metadata.continue``), and both clients read exactly the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from _op_http import BackgroundServer

PODS_PATH = "/api/v1/pods"
_RESOURCE_VERSION = "48300000"


def realistic_pods(count: int, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` raw Pods from the synthetic cluster, as ``kubectl get -o json`` shows them.

    The samples omit ``imageID``/``containerID`` on init container statuses, which a
    real API server always sets and the official client's models require; they are
    filled in so both clients can read every object.
    """
    from obsyk_plugins.core_kinds.testing.samples import cluster_counts, synthetic_cluster

    total = count
    while cluster_counts(total)["Pod"] < count:
        total += max(1, (count - cluster_counts(total)["Pod"]) * 3)
    produced = 0
    for kind, obj in synthetic_cluster(total, seed=seed):
        if kind != "Pod":
            continue
        for status in obj["status"].get("initContainerStatuses") or ():
            status.setdefault("imageID", status["image"].split(":")[0] + "@sha256:" + "cd34" * 16)
            status.setdefault("containerID", "containerd://" + "7e1a" * 16)
        yield obj
        produced += 1
        if produced == count:
            return


def serialise_pages(pods: Iterator[dict[str, Any]], page_size: int) -> list[bytes]:
    """PodList pages of ``page_size`` items; page ``i`` continues with token ``str(i + 1)``."""
    chunks: list[list[dict[str, Any]]] = []
    page: list[dict[str, Any]] = []
    for pod in pods:
        page.append(pod)
        if len(page) == page_size:
            chunks.append(page)
            page = []
    if page or not chunks:
        chunks.append(page)
    pages = []
    for index, items in enumerate(chunks):
        metadata: dict[str, Any] = {"resourceVersion": _RESOURCE_VERSION}
        if index + 1 < len(chunks):
            metadata["continue"] = str(index + 1)
        pages.append(
            orjson.dumps(
                {"kind": "PodList", "apiVersion": "v1", "metadata": metadata, "items": items}
            )
        )
    return pages


class PageServer(BackgroundServer):
    """Serves ``GET /api/v1/pods?limit=N[&continue=i]`` from pre-serialised pages."""

    def __init__(self, pages: list[bytes], page_size: int) -> None:
        self.pages = pages
        self.page_size = page_size
        self.served = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                if parts.path != PODS_PATH or int(query.get("limit") or 0) != server.page_size:
                    # Both clients must page exactly as the pages were cut.
                    self._send(400, b'{"kind":"Status","code":400,"message":"bad LIST"}')
                    return
                index = int(query.get("continue") or 0)
                if not 0 <= index < len(server.pages):
                    self._send(410, b'{"kind":"Status","code":410,"message":"expired"}')
                    return
                server.served += 1
                self._send(200, server.pages[index])

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)
