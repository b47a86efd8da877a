"""``/healthz``, ``/readyz`` and ``/metrics`` over a small threaded HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class HealthServer:
    """Serves liveness, readiness and (when given a registry) metrics on one port.

    Liveness never depends on the platform: a platform outage is something the
    operator rides out, and restarting it would only lose the local cache.
    """

    def __init__(
        self,
        *,
        port: int,
        alive: Callable[[], bool] | None = None,
        ready: Callable[[], bool] | None = None,
        ready_detail: Callable[[], Mapping[str, str]] | None = None,
        registry: CollectorRegistry | None = None,
        host: str = "0.0.0.0",
    ) -> None:
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {}
        if alive is not None:
            routes["/healthz"] = lambda: _probe(alive())
        if ready is not None:
            routes["/readyz"] = lambda: _probe(ready(), ready_detail() if ready_detail else {})
        if registry is not None:
            routes["/metrics"] = lambda: (200, CONTENT_TYPE_LATEST, generate_latest(registry))

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                status, content_type, body = route() if route else (404, "text/plain", b"")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # probes every few seconds would drown the real logs

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="health-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _probe(ok: bool, skipped: Mapping[str, str] | None = None) -> tuple[int, str, bytes]:
    """``ok`` or ``not ready``, then one line per kind skipped and why (``not_served``...).

    A skipped kind never makes the operator unready: the other kinds flow.
    """
    lines = ["ok" if ok else "not ready"]
    lines += [f"kind {kind} skipped: {why}" for kind, why in sorted((skipped or {}).items())]
    body = ("\n".join(lines) + "\n").encode()
    return (200 if ok else 503), "text/plain", body
