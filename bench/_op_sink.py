"""A platform that swallows snapshots: counts the bytes and bodies it is sent, keeps none.

The operator's snapshot bench measures the *operator's* memory while it sends a
snapshot, so the receiving side must cost nothing and hold nothing: every body
(``Content-Length`` or chunked) is read in 64 KiB pieces and dropped.  With
``extensions`` it answers heartbeats ``{"resync": []}`` as the reference
platform does, so the operator may chunk; without, ``{}`` like an upstream-only
platform, and the operator must send one body.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

import orjson
from _op_http import BackgroundServer

_PIECE = 64 * 1024


class SnapshotSink(BackgroundServer):
    def __init__(self, *, extensions: bool) -> None:
        self.extensions = extensions
        self.bodies = 0
        self.body_bytes = 0
        self.largest_body = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                size = self._drain()
                if self.path.endswith("/snapshot"):
                    with sink._lock:
                        sink.bodies += 1
                        sink.body_bytes += size
                        sink.largest_body = max(sink.largest_body, size)
                answer: dict[str, Any] = {}
                if self.path.endswith("/heartbeat") and sink.extensions:
                    answer = {"resync": []}
                data = orjson.dumps(answer)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _drain(self) -> int:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    total = 0
                    while True:
                        length = int(self.rfile.readline().split(b";")[0], 16)
                        if length == 0:
                            self.rfile.readline()
                            return total
                        total += self._skip(length)
                        self.rfile.readline()
                return self._skip(int(self.headers.get("Content-Length") or 0))

            def _skip(self, length: int) -> int:
                left = length
                while left:
                    left -= len(self.rfile.read(min(left, _PIECE)))
                return length

        super().__init__(Handler)
