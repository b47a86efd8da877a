"""Talking to the Kubernetes API: raw JSON over the official client's transport.

The official client's generated model objects cost far more than the JSON they
come from, and the extractors read plain dicts anyway, so this layer asks
:class:`kubernetes.client.ApiClient` for the raw HTTP response
(``param_serialize`` + ``call_api``, which never preloads) and parses it with
orjson.  Authentication, TLS and kubeconfig/in-cluster handling stay the
client's job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.watch.watch import iter_resp_lines
from urllib3.exceptions import HTTPError

JsonObject = dict[str, Any]


class KubeApiError(Exception):
    """The API server answered with an error status (``status`` 0: it could not be reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Kubernetes API error {status}: {message}" if status else message)
        self.status = status
        self.message = message


class ResourceGone(KubeApiError):
    """410 Gone: the resourceVersion is older than the server's history; re-LIST."""


class KubeUnreachable(KubeApiError):
    """A network error talking to the API server."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


@dataclass(frozen=True, slots=True)
class ListPage:
    items: list[JsonObject]
    resource_version: str
    continue_token: str | None


def collection_path(group: str, version: str, plural: str, namespace: str | None = None) -> str:
    """``/api/v1/pods``, ``/apis/apps/v1/namespaces/web/deployments``..."""
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if namespace:
        return f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{prefix}/{plural}"


def load_api_client(
    kubeconfig: str | None, *, pool_size: int | None = None
) -> k8s_client.ApiClient:
    """An ApiClient from a kubeconfig file, or from the pod's service account when ``None``.

    ``pool_size``: connections kept open to the API server.  Every watch holds
    one for minutes, so the client's default (five per CPU) is too few for
    one watch per kind: urllib3 then opens extra connections and, as each is
    returned, discards it with a "Connection pool is full" warning.
    """
    configuration = k8s_client.Configuration()
    if pool_size is not None:
        configuration.connection_pool_maxsize = pool_size
    # The kubernetes package has no type hints: these calls are untyped by necessity.
    if kubeconfig:
        api_client: k8s_client.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=configuration
        )
        return api_client
    k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return k8s_client.ApiClient(configuration)


class KubeApi:
    """Raw-JSON GET/LIST/WATCH/POST/PUT against the API server."""

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        *,
        request_timeout: float = 30.0,
        watch_timeout_seconds: int = 300,
    ) -> None:
        self.api_client = api_client
        self.request_timeout = request_timeout
        self.watch_timeout_seconds = watch_timeout_seconds

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, Any]] = (),
        body: JsonObject | None = None,
        timeout: float | tuple[float, float] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            return self.api_client.call_api(
                *request, _request_timeout=timeout or self.request_timeout
            )
        except (HTTPError, OSError) as exc:
            raise KubeUnreachable(f"cannot reach the Kubernetes API at {self.host}: {exc}") from exc
        except k8s_client.ApiException as exc:
            raise KubeUnreachable(f"cannot reach the Kubernetes API at {self.host}: {exc}") from exc

    def _json(self, method: str, path: str, **kwargs: Any) -> JsonObject:
        response = self._call(method, path, **kwargs)
        try:
            data = response.read()
        except (HTTPError, OSError) as exc:
            raise KubeUnreachable(f"connection to {self.host} broke: {exc}") from exc
        finally:
            response.response.release_conn()
        if not 200 <= response.status < 300:
            raise _error_from(response.status, data)
        parsed: JsonObject = orjson.loads(data)
        return parsed

    def get(self, path: str) -> JsonObject:
        return self._json("GET", path)

    def create(self, path: str, body: JsonObject) -> JsonObject:
        return self._json("POST", path, body=body)

    def replace(self, path: str, body: JsonObject) -> JsonObject:
        return self._json("PUT", path, body=body)

    def list_page(self, path: str, *, limit: int, continue_token: str | None = None) -> ListPage:
        query: list[tuple[str, Any]] = [("limit", limit)]
        if continue_token:
            query.append(("continue", continue_token))
        body = self._json("GET", path, query=query)
        meta = body.get("metadata") or {}
        return ListPage(
            items=body.get("items") or [],
            resource_version=str(meta.get("resourceVersion", "")),
            continue_token=meta.get("continue") or None,
        )

    def watch(self, path: str, *, resource_version: str) -> WatchStream:
        """Open a watch from ``resource_version``; iterate the stream for raw events."""
        query = [
            ("watch", "1"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", self.watch_timeout_seconds),
        ]
        # The read timeout outlives the server-side timeout so a quiet watch is not cut
        # by us; a dead connection is still noticed eventually.
        timeout = (self.request_timeout, self.watch_timeout_seconds + self.request_timeout)
        response = self._call("GET", path, query=query, timeout=timeout)
        if not 200 <= response.status < 300:
            data = response.read()
            response.response.release_conn()
            raise _error_from(response.status, data)
        return WatchStream(response.response, self.host)


class WatchStream:
    """The raw events of one watch connection; ERROR events become exceptions."""

    def __init__(self, response: Any, host: str) -> None:
        self._response = response
        self._host = host
        self._closed = False

    def __iter__(self) -> Iterator[JsonObject]:
        try:
            for line in iter_resp_lines(self._response):  # type: ignore[no-untyped-call]
                event: JsonObject = orjson.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    code = int(status.get("code") or 500)
                    message = str(status.get("message") or "watch error")
                    raise (ResourceGone if code == 410 else KubeApiError)(code, message)
                yield event
        except (HTTPError, OSError, ValueError) as exc:
            if isinstance(exc, orjson.JSONDecodeError):
                raise KubeApiError(0, f"malformed watch event from {self._host}: {exc}") from exc
            raise KubeUnreachable(f"watch connection to {self._host} broke: {exc}") from exc
        finally:
            self.close()

    def close(self) -> None:
        """Cut the connection; safe to call from another thread to unblock a reader."""
        if self._closed:
            return
        self._closed = True
        # shutdown() (not close()) is what wakes a reader blocked in another thread.
        with contextlib.suppress(ValueError, RuntimeError, OSError, AttributeError):
            self._response.shutdown()
        with contextlib.suppress(OSError):
            self._response.release_conn()


def _error_from(status: int, data: bytes) -> KubeApiError:
    try:
        message = str(orjson.loads(data).get("message") or data[:200].decode(errors="replace"))
    except (orjson.JSONDecodeError, AttributeError):
        message = data[:200].decode(errors="replace")
    return (ResourceGone if status == 410 else KubeApiError)(status, message)
