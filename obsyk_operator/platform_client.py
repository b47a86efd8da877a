"""POSTs to the platform's agent endpoints with a bearer token.

Classifies every answer for the shipping layer: 2xx is done; 401 gets one
retry with a fresh token; 429, 5xx and network errors are
:class:`PlatformUnavailable` (retry later, honouring ``Retry-After``); any
other 4xx is :class:`PlatformRejected` (this body can never succeed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sized
from typing import Any, Protocol

import orjson
import requests

from obsyk_operator.tokens import PlatformUnavailable, retry_after_seconds


class TokenSource(Protocol):
    def token(self) -> str: ...

    def invalidate(self, token: str) -> None: ...


class StreamedBody(Sized, Iterable[bytes], Protocol):
    """A body sent piece by piece with a known total size (re-iterable: a 401 sends it again)."""


class PlatformRejected(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"the platform rejected the request ({status}): {body[:300]}")
        self.status = status
        self.body = body


class PlatformClient:
    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenSource,
        session: requests.Session | None = None,
        timeout: float = 15.0,
        observe: Callable[[str, int, float], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.session = session or requests.Session()
        self.timeout = timeout
        #: Told (path, status, seconds) after every request; status 0 for a network error.
        self.observe = observe or (lambda path, status, seconds: None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` as JSON; return the parsed answer (``None`` when not JSON)."""
        return self.post_json(path, orjson.dumps(body))

    def post_json(self, path: str, data: bytes | StreamedBody) -> Any:
        """POST JSON already serialised, whole or streamed (``Content-Length`` from ``len()``)."""
        for attempt in (1, 2):
            token = self.tokens.token()
            response = self._send(path, data, token)
            if response.status_code == 401 and attempt == 1:
                self.tokens.invalidate(token)
                continue
            return self._classify(response)
        raise AssertionError("unreachable")

    def _send(self, path: str, data: bytes | StreamedBody, token: str) -> requests.Response:
        started = time.monotonic()
        try:
            response = self.session.post(
                self.base_url + path,
                data=data,
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            self.observe(path, 0, time.monotonic() - started)
            raise PlatformUnavailable(
                f"cannot reach the platform at {self.base_url}: {exc}"
            ) from exc
        self.observe(path, response.status_code, time.monotonic() - started)
        return response

    @staticmethod
    def _classify(response: requests.Response) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json() if response.content else None
            except ValueError:
                return None
        if status == 429 or status >= 500:
            raise PlatformUnavailable(
                f"the platform answered {status}",
                status=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        raise PlatformRejected(status, response.text)
