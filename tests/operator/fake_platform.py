"""A small platform for fault injection: records what it receives, applies it, misbehaves on cue.

It verifies the operator's assertion for real (ES256 signature with the public
key, ``iss``/``sub``/``aud``/``exp``/``jti``) and keeps the inventory the way
CONTRACT.md says a platform must (snapshot = complete truth of carried kinds,
chunks staged until ``final``, events upsert/tombstone), so tests can assert
convergence rather than request counts.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.jwk import ECKey


@dataclass
class Received:
    path: str
    body: Any
    authorization: str
    at: float = field(default_factory=time.monotonic)


class FakePlatform:
    def __init__(self, *, client_id: str = "client-1", token_lifetime: int = 3600) -> None:
        self.private_key = ECKey.generate_key("P-256")
        self.private_key_pem = self.private_key.as_pem(private=True).decode()
        self.public_key = ECKey.import_key(self.private_key.as_pem(private=False))
        self.client_id = client_id
        self.token_lifetime = token_lifetime
        #: False: an upstream-only platform; it refuses our extra fields with 422...
        self.supports_extensions = True
        #: ...unless ``lenient``: then it ignores them (and takes every snapshot body whole).
        self.lenient = False
        #: Heartbeat answers carry ``resync`` (``[]`` when nothing drifted), as the reference app's.
        self.answers_resync = True
        #: Knows the other extensions but refuses snapshot chunks (422).
        self.refuses_chunks = False
        #: Names whose events are refused for good (422 naming the event's path, in a batch
        #: ``events.<n>.object.name``); snapshots take them.
        self.refused_event_names: set[str] = set()
        self.resync_answer: list[str] | None = None
        #: Kind names the heartbeat answer says are accepted (``None``: it does not say).
        self.accepted_kinds: list[str] | None = None
        self.down = False  # answer every agent request 503
        self.received: list[Received] = []
        self.token_requests: list[dict[str, Any]] = []
        #: Responses forced on the next agent requests: (status, headers).
        self.scripted: deque[tuple[int, dict[str, str]]] = deque()
        #: Issued access tokens and when each expires (monotonic clock).
        self.valid_tokens: dict[str, float] = {}
        self.unauthorized = 0
        self.state: dict[str, dict[str, dict[str, Any]]] = {}
        self.snapshot_keys: dict[str, str] = {}
        self._staged: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self.port = 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakePlatform:
        platform = self

        class Handler(_Handler):
            fake = platform

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: the operator now sees connection errors (a real outage)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ test helpers

    def expire_tokens(self) -> None:
        """Forget every issued token: the next agent request gets 401."""
        with self._lock:
            self.valid_tokens.clear()

    def script(self, status: int, *, times: int = 1, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            for _ in range(times):
                self.scripted.append((status, headers or {}))

    def bodies(self, path_suffix: str) -> list[Any]:
        with self._lock:
            return [r.body for r in self.received if r.path.endswith(path_suffix)]

    def records(self, kind: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self.state.get(kind, {}))

    def names(self, kind: str) -> set[str]:
        return {record["name"] for record in self.records(kind).values()}

    def wait_for(self, condition: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"condition not met in {timeout}s: {condition}")

    # ------------------------------------------------------------ behaviour

    def issue_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type"}
        try:
            token = jwt.decode(form.get("assertion", ""), self.public_key, algorithms=["ES256"])
        except Exception:
            return 401, {"error": "invalid_client", "error_description": "bad signature"}
        claims = token.claims
        now = time.time()
        if (
            token.header.get("alg") != "ES256"
            or claims.get("iss") != self.client_id
            or claims.get("sub") != self.client_id
            or claims.get("aud") != [self.url]
            or not (now - 60 <= claims.get("iat", 0) <= now + 60)
            or claims.get("exp", 0) - claims.get("iat", 0) > 600
            or not claims.get("jti")
        ):
            return 400, {"error": "invalid_grant", "error_description": f"bad claims {claims}"}
        access = f"tok-{uuid.uuid4().hex}"
        with self._lock:
            self.valid_tokens[access] = time.monotonic() + self.token_lifetime
        return 200, {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
        }

    def handle_agent(
        self, path: str, body: Any, authorization: str
    ) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.received.append(Received(path, body, authorization))
            if self.scripted:
                status, headers = self.scripted.popleft()
                return status, headers, {"error": "scripted"}
            if self.down:
                return 503, {}, {"error": "down"}
            expires = self.valid_tokens.get(authorization.removeprefix("Bearer "), 0.0)
            if expires < time.monotonic():
                self.unauthorized += 1
                return 401, {}, {"error": "invalid_token"}
            if path.endswith("/snapshot"):
                return self._snapshot(body)
            if path.endswith("/events"):
                return self._events(body)
            if path.endswith("/heartbeat"):
                answer: dict[str, Any] = {}
                if self.supports_extensions and self.answers_resync:
                    answer["resync"], self.resync_answer = self.resync_answer or [], None
                if self.accepted_kinds is not None:
                    answer["kinds"] = self.accepted_kinds
                return 200, {}, answer
        return 404, {}, {"error": "not found"}

    def _snapshot(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        meta = {
            "cluster_uid",
            "cluster_name",
            "agent_version",
            "kubernetes_version",
            "platform",
            "region",
            "snapshot_id",
            "chunk",
            "final",
        }
        chunk_fields = {"snapshot_id", "chunk", "final"}
        if self.refuses_chunks and body.keys() & chunk_fields:
            return 422, {}, {"error": "unknown fields"}
        if not self.supports_extensions and body.keys() & chunk_fields:
            if not self.lenient:
                return 422, {}, {"error": "unknown fields"}
            body = {key: value for key, value in body.items() if key not in chunk_fields}
        if "snapshot_id" in body:
            staged = self._staged.setdefault(body["snapshot_id"], [])
            staged.append(body)
            if not body.get("final"):
                return 202, {}, {}
            chunks = self._staged.pop(body["snapshot_id"])
        else:
            chunks = [body]
        carried: dict[str, dict[str, dict[str, Any]]] = {}
        for chunk in chunks:
            for key, records in chunk.items():
                if key in meta:
                    continue
                kind = self.snapshot_keys.get(key, key)
                bucket = carried.setdefault(kind, {})
                for record in records:
                    bucket[record["uid"]] = record
        self.state.update(carried)
        return 200, {}, {}

    def _events(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        """Validate every event first (by path, as the reference app does), then apply all."""
        if "events" in body:
            if not self.supports_extensions:
                # Upstream reads a batch as one event and misses its top-level fields.
                return 422, {}, invalid_body(_event_problems(body, set()))
            events = body["events"]
            paths = [f"events.{index}." for index in range(len(events))]
        else:
            unknown = {"seq", "resource_version"} & body.keys()
            if not self.supports_extensions and unknown:
                return 422, {}, invalid_body({key: ["Unknown field."] for key in sorted(unknown)})
            events, paths = [body], [""]
        errors = {
            path + key: messages
            for path, event in zip(paths, events, strict=True)
            for key, messages in _event_problems(event, self.refused_event_names).items()
        }
        if errors:
            return 422, {}, invalid_body(errors)
        for event in events:
            bucket = self.state.setdefault(event["kind"], {})
            if event["type"] == "deleted":
                bucket.pop(event["uid"], None)
            else:
                bucket[event["uid"]] = event["object"]
        return 200, {}, {}


def _event_problems(event: dict[str, Any], refused_names: set[str]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for key in ("type", "kind", "uid", "name"):
        if not isinstance(event.get(key), str):
            problems[key] = ["Missing data for required field."]
    if event.get("type") in ("added", "modified") and not isinstance(event.get("object"), dict):
        problems["object"] = ["Required for added and modified events."]
    if event.get("name") in refused_names:
        problems["object.name"] = ["Refused by this platform."]
    return problems


def invalid_body(errors: dict[str, list[str]]) -> dict[str, Any]:
    """The reference app's 422 shape: ``{"code", "status", "message", "errors"}`` by path."""
    return {
        "code": "invalid_body",
        "status": 422,
        "message": f"The request body is invalid ({len(errors)} problems).",
        "errors": errors,
    }


class _Handler(BaseHTTPRequestHandler):
    fake: FakePlatform
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path == "/oauth/token":
            form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
            status, answer = self.fake.issue_token(form)
            headers: dict[str, str] = {}
        else:
            status, headers, answer = self.fake.handle_agent(
                self.path, json.loads(raw), self.headers.get("Authorization", "")
            )
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
