"""A small in-memory Kubernetes API server, for the operator's tests and for trying it out.

It speaks just enough of the real protocol for the official ``kubernetes``
client and the operator's watching layer: discovery, ``/version``, LIST with
``limit``/``continue``, WATCH as chunked JSON lines with bookmarks, ``410
Gone`` (as an HTTP status or as an ERROR event, like a real server after
etcd compaction), GET/POST/PUT/DELETE with resourceVersion conflicts (for
Leases and Secrets).  It checks no credentials.  Tests mutate it directly
through :meth:`KubeServer.add`, :meth:`modify`, :meth:`delete`,
:meth:`compact` and :meth:`drop_watches`; people through HTTP (``curl -X
POST``/``DELETE``) or ``--churn``.

Custom resources come as on a real server: create a CustomResourceDefinition
(``apiextensions.k8s.io/v1``, by :meth:`KubeServer.add`, HTTP or ``--crd
FILE.yaml``) and its served versions appear in discovery and take objects;
delete it and they are gone again (404).  :meth:`KubeServer.add_resource`
does the same without a manifest, and :meth:`KubeServer.forbid` answers a
resource's LIST and WATCH with 403, as RBAC does for a client not allowed
to read it.

As a command, ``python -m obsyk_operator.testing.kube_server`` serves a small
seeded cluster and writes a kubeconfig for it (see :mod:`.local_cluster`).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import queue
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml


@dataclass(frozen=True, slots=True)
class ApiResource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


CORE_RESOURCES = (
    ApiResource("", "v1", "namespaces", "Namespace", False),
    ApiResource("", "v1", "pods", "Pod", True),
    ApiResource("", "v1", "services", "Service", True),
    ApiResource("", "v1", "nodes", "Node", False),
    ApiResource("", "v1", "configmaps", "ConfigMap", True),
    ApiResource("", "v1", "secrets", "Secret", True),
    ApiResource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    ApiResource("", "v1", "serviceaccounts", "ServiceAccount", True),
    ApiResource("", "v1", "events", "Event", True),
    ApiResource("apps", "v1", "deployments", "Deployment", True),
    ApiResource("apps", "v1", "statefulsets", "StatefulSet", True),
    ApiResource("apps", "v1", "daemonsets", "DaemonSet", True),
    ApiResource("batch", "v1", "jobs", "Job", True),
    ApiResource("batch", "v1", "cronjobs", "CronJob", True),
    ApiResource("networking.k8s.io", "v1", "ingresses", "Ingress", True),
    ApiResource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    ApiResource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ApiResource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ApiResource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ApiResource(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False
    ),
    ApiResource("coordination.k8s.io", "v1", "leases", "Lease", True),
    ApiResource(
        "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
    ),
)
_CRD = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")

_GVP = tuple[str, str, str]
_Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped


@dataclass(slots=True)
class _Change:
    rv: int
    gvp: _GVP
    type: str
    obj: dict[str, Any]


class _Watch:
    """One open watch connection: its filter and the queue the server feeds."""

    def __init__(self, gvp: _GVP, namespace: str | None, sock: socket.socket) -> None:
        self.gvp = gvp
        self.namespace = namespace
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.sock = sock

    def wants(self, change: _Change) -> bool:
        if change.gvp != self.gvp:
            return False
        ns = change.obj["metadata"].get("namespace", "")
        return self.namespace is None or ns == self.namespace


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class KubeServer:
    """The server state plus the HTTP server thread that serves it."""

    def __init__(self, *, bookmark_interval: float = 0.5, gone_as_http: bool = False) -> None:
        self.resources = {(r.group, r.version, r.plural): r for r in CORE_RESOURCES}
        self.objects: dict[_GVP, dict[_Key, dict[str, Any]]] = {gvp: {} for gvp in self.resources}
        self.history: list[_Change] = []
        self.resource_version = 100
        #: Watches from a resourceVersion older than this get 410 Gone.
        self.oldest_watchable_rv = 0
        self.bookmark_interval = bookmark_interval
        #: True: a too-old watch gets HTTP 410; False: HTTP 200 then an ERROR event (like etcd).
        self.gone_as_http = gone_as_http
        #: What ``/version`` answers; ``None``: 403, as for a client RBAC keeps from it.
        self.version_info: dict[str, str] | None = {
            "major": "1",
            "minor": "30",
            "gitVersion": "v1.30.0",
            "platform": "test",
        }
        self.requests: Counter[tuple[str, str]] = Counter()
        self.authorizations: list[str] = []
        #: Resources whose LIST and WATCH answer 403 (see :meth:`forbid`).
        self.forbidden: set[_GVP] = set()
        self._lock = threading.RLock()
        self._watches: set[_Watch] = set()
        self._watches_open = threading.Event()
        self._watches_open.set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.kube_system_uid = self.add("namespaces", {"metadata": {"name": "kube-system"}})[
            "metadata"
        ]["uid"]

    # ------------------------------------------------------------ lifecycle

    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> KubeServer:
        """Serve on ``host:port`` (port 0: any free one) from a daemon thread."""
        server = self

        class Handler(_Handler):
            kube = server

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.drop_watches()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def write_kubeconfig(self, path: Path, *, token: str = "test-token") -> Path:
        """A kubeconfig pointing the official client at this server."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {"server": self.url}}],
            "users": [{"name": "test", "user": {"token": token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
            "current-context": "test",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # ------------------------------------------------------------ custom resources

    def add_resource(
        self, group: str, version: str, plural: str, kind: str, *, namespaced: bool = True
    ) -> ApiResource:
        """Serve a new resource type (what creating a CRD does); idempotent."""
        res = ApiResource(group, version, plural, kind, namespaced)
        with self._lock:
            self.resources[(group, version, plural)] = res
            self.objects.setdefault((group, version, plural), {})
        return res

    def remove_resource(self, group: str, version: str, plural: str) -> None:
        """Stop serving a resource type and drop its objects (what deleting a CRD does).

        Its open watches end; the API then answers 404 for it, and discovery
        no longer lists it.
        """
        gvp = (group, version, plural)
        with self._lock:
            self.resources.pop(gvp, None)
            self.objects.pop(gvp, None)
            ended = [watch for watch in self._watches if watch.gvp == gvp]
        for watch in ended:
            watch.events.put(None)

    def forbid(self, plural: str, group: str | None = None, *, forbidden: bool = True) -> None:
        """Answer LIST and WATCH of a resource with 403 (``forbidden=False`` allows it again)."""
        res = self.resource(plural, group)
        with self._lock:
            (self.forbidden.add if forbidden else self.forbidden.discard)(
                (res.group, res.version, res.plural)
            )

    def _crd_changed(self, type_: str, crd: dict[str, Any]) -> None:
        """Serve (ADDED/MODIFIED) or stop serving (DELETED) a CRD's versions."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, plural, kind = spec.get("group", ""), names.get("plural", ""), names.get("kind", "")
        namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        for version in spec.get("versions") or ():
            name = version.get("name", "")
            if type_ != "DELETED" and version.get("served", True):
                self.add_resource(group, name, plural, kind, namespaced=namespaced)
            else:
                self.remove_resource(group, name, plural)

    # ------------------------------------------------------------ mutation helpers

    def resource(self, plural: str, group: str | None = None) -> ApiResource:
        matches = [
            r for r in self.resources.values() if r.plural == plural and group in (None, r.group)
        ]
        assert len(matches) == 1, f"no single resource named {plural!r}"
        return matches[0]

    def resource_of(self, api_version: str, kind: str) -> ApiResource:
        """The served resource of objects with this ``apiVersion`` and ``kind``; ``LookupError``."""
        with self._lock:
            for res in self.resources.values():
                if (res.api_version, res.kind) == (api_version, kind):
                    return res
        raise LookupError(f"no served resource for {kind} in {api_version}")

    def add(self, plural: str, obj: dict[str, Any], *, group: str | None = None) -> dict[str, Any]:
        """Create an object (uid, resourceVersion, creationTimestamp filled in); return it."""
        res = self.resource(plural, group)
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            meta.setdefault("namespace", "default")
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault(
            "creationTimestamp", datetime.now(UTC).replace(microsecond=0).isoformat()[:-6] + "Z"
        )
        obj.setdefault("kind", res.kind)
        obj.setdefault("apiVersion", res.api_version)
        with self._lock:
            key = (meta.get("namespace", ""), meta["name"])
            gvp = (res.group, res.version, res.plural)
            if key in self.objects[gvp]:
                raise KeyError(f"{res.kind} {key} already exists")
            return self._commit(gvp, "ADDED", key, obj)

    def modify(
        self,
        plural: str,
        name: str,
        change: dict[str, Any],
        *,
        namespace: str = "",
        group: str | None = None,
    ) -> dict[str, Any]:
        """Deep-merge ``change`` into an object and bump its resourceVersion."""
        res = self.resource(plural, group)
        ns = (namespace or "default") if res.namespaced else ""
        with self._lock:
            gvp = (res.group, res.version, res.plural)
            obj = copy.deepcopy(self.objects[gvp][(ns, name)])
            _merge(obj, change)
            return self._commit(gvp, "MODIFIED", (ns, name), obj)

    def delete(
        self, plural: str, name: str, *, namespace: str = "", group: str | None = None
    ) -> dict[str, Any]:
        """Delete an object (``KeyError`` if absent); return it as it was last."""
        res = self.resource(plural, group)
        ns = (namespace or "default") if res.namespaced else ""
        with self._lock:
            gvp = (res.group, res.version, res.plural)
            obj = copy.deepcopy(self.objects[gvp][(ns, name)])
            return self._commit(gvp, "DELETED", (ns, name), obj)

    def get(
        self, plural: str, name: str, *, namespace: str = "", group: str | None = None
    ) -> dict[str, Any]:
        res = self.resource(plural, group)
        ns = (namespace or "default") if res.namespaced else ""
        with self._lock:
            return copy.deepcopy(self.objects[(res.group, res.version, res.plural)][(ns, name)])

    def compact(self) -> None:
        """Forget all history: any watch from an older resourceVersion now gets 410 Gone."""
        with self._lock:
            self.history.clear()
            self.oldest_watchable_rv = self.resource_version

    def drop_watches(self) -> None:
        """Cut every open watch connection (the client sees a network error)."""
        with self._lock:
            watches = list(self._watches)
        for watch in watches:
            watch.events.put(None)
            with contextlib.suppress(OSError):
                watch.sock.shutdown(socket.SHUT_RDWR)

    def expire_watches(self) -> None:
        """Send every open watch an ERROR event with a 410 Status, as a compacted server does."""
        with self._lock:
            for watch in self._watches:
                watch.events.put(
                    {"type": "ERROR", "object": _status(410, "Expired", "too old resource version")}
                )

    @contextlib.contextmanager
    def watches_paused(self) -> Iterator[None]:
        """Drop open watches and hold new ones until the block ends: a watch gap."""
        self._watches_open.clear()
        self.drop_watches()
        try:
            yield
        finally:
            self._watches_open.set()

    def open_watches(self) -> int:
        with self._lock:
            return len(self._watches)

    def request_count(self, method: str | None = None, path_prefix: str = "") -> int:
        with self._lock:
            return sum(
                n
                for (m, p), n in self.requests.items()
                if (method is None or m == method) and p.startswith(path_prefix)
            )

    # ------------------------------------------------------------ internals

    def _commit(self, gvp: _GVP, type_: str, key: _Key, obj: dict[str, Any]) -> dict[str, Any]:
        self.resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self.resource_version)
        if type_ == "DELETED":
            self.objects[gvp].pop(key, None)
        else:
            self.objects[gvp][key] = obj
        change = _Change(self.resource_version, gvp, type_, copy.deepcopy(obj))
        self.history.append(change)
        for watch in self._watches:
            if watch.wants(change):
                watch.events.put({"type": type_, "object": change.obj})
        if gvp == _CRD:
            self._crd_changed(type_, obj)
        return copy.deepcopy(obj)

    def _register_watch(self, watch: _Watch, since: int) -> list[dict[str, Any]] | None:
        """Subscribe and return the backlog after ``since``; ``None`` when ``since`` is too old."""
        with self._lock:
            if since < self.oldest_watchable_rv:
                return None
            self._watches.add(watch)
            return [
                {"type": c.type, "object": copy.deepcopy(c.obj)}
                for c in self.history
                if c.rv > since and watch.wants(c)
            ]

    def _unregister_watch(self, watch: _Watch) -> None:
        with self._lock:
            self._watches.discard(watch)


def _merge(target: dict[str, Any], change: dict[str, Any]) -> None:
    for key, value in change.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class _Handler(BaseHTTPRequestHandler):
    kube: KubeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    # ------------------------------------------------------------ plumbing

    def _send_json(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _route(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self.kube._lock:
            self.kube.requests[(method, parts.path)] += 1
            self.kube.authorizations.append(self.headers.get("Authorization", ""))
        try:
            self._dispatch(method, parts.path, query)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    # ------------------------------------------------------------ routing

    def _dispatch(self, method: str, path: str, query: dict[str, str]) -> None:
        segments = [s for s in path.split("/") if s]
        if path == "/version":
            if self.kube.version_info is None:
                return self._send_json(403, _status(403, "Forbidden", "forbidden: /version"))
            return self._send_json(200, self.kube.version_info)
        if segments == ["api"]:
            return self._send_json(200, {"kind": "APIVersions", "versions": ["v1"]})
        if segments == ["apis"]:
            return self._send_json(200, self._group_list())
        if segments[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", segments[2:]
        elif len(segments) >= 3 and segments[0] == "apis":
            group, version, rest = segments[1], segments[2], segments[3:]
        else:
            return self._send_json(404, _status(404, "NotFound", f"no route for {path}"))
        if not rest:
            listed = self._resource_list(group, version)
            if not listed["resources"]:  # a group/version nobody serves
                return self._send_json(404, _status(404, "NotFound", f"no route for {path}"))
            return self._send_json(200, listed)
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        gvp = (group, version, rest[0])
        with self.kube._lock:
            res = self.kube.resources.get(gvp)
        if res is None:
            return self._send_json(404, _status(404, "NotFound", f"unknown resource {path}"))
        name = rest[1] if len(rest) > 1 else None
        if name is None and method == "GET" and gvp in self.kube.forbidden:
            message = (
                f'{res.plural}.{res.group} is forbidden: User "test" cannot list resource '
                f'"{res.plural}" in API group "{res.group}" at the cluster scope'
            )
            return self._send_json(403, _status(403, "Forbidden", message))
        if name is None and method == "GET":
            if query.get("watch") in ("1", "true"):
                return self._watch(res, namespace, query)
            return self._list(res, namespace, query)
        if name is None and method == "POST":
            return self._create(res, namespace, self._read_body())
        if name is not None and method == "GET":
            return self._get(res, namespace or "", name)
        if name is not None and method == "PUT":
            return self._replace(res, namespace or "", name, self._read_body())
        if name is not None and method == "DELETE":
            return self._delete(res, namespace or "", name)
        return self._send_json(405, _status(405, "MethodNotAllowed", method))

    def _group_list(self) -> dict[str, Any]:
        with self.kube._lock:
            served = list(self.kube.resources.values())
        groups = sorted({(r.group, r.version) for r in served if r.group})
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                    "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
                }
                for g, v in groups
            ],
        }

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        with self.kube._lock:
            served = list(self.kube.resources.values())
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": [
                {
                    "name": r.plural,
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["create", "delete", "get", "list", "update", "watch"],
                }
                for r in served
                if (r.group, r.version) == (group, version)
            ],
        }

    # ------------------------------------------------------------ verbs

    def _list(self, res: ApiResource, namespace: str | None, query: dict[str, str]) -> None:
        kube = self.kube
        limit = int(query.get("limit") or 0)
        start_after: list[str] | None = None
        if query.get("continue"):
            token = json.loads(base64.urlsafe_b64decode(query["continue"]))
            if token["rv"] < kube.oldest_watchable_rv:
                return self._send_json(
                    410, _status(410, "Expired", "the provided continue parameter is too old")
                )
            start_after = token["after"]
        with kube._lock:
            gvp = (res.group, res.version, res.plural)
            objects = kube.objects.get(gvp, {})  # empty if its CRD was deleted meanwhile
            keys = sorted(k for k in objects if namespace is None or k[0] == namespace)
            if start_after is not None:
                keys = [k for k in keys if list(k) > start_after]
            page = keys[:limit] if limit else keys
            items = [copy.deepcopy(objects[k]) for k in page]
            rv = kube.resource_version
        metadata: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and len(keys) > limit:
            token = {"rv": rv, "after": list(page[-1])}
            metadata["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
        self._send_json(
            200,
            {
                "kind": f"{res.kind}List",
                "apiVersion": res.api_version,
                "metadata": metadata,
                "items": items,
            },
        )

    def _watch(self, res: ApiResource, namespace: str | None, query: dict[str, str]) -> None:
        kube = self.kube
        kube._watches_open.wait()
        since = int(query.get("resourceVersion") or kube.resource_version)
        watch = _Watch((res.group, res.version, res.plural), namespace, self.connection)
        backlog = kube._register_watch(watch, since)
        if backlog is None and kube.gone_as_http:
            return self._send_json(410, _status(410, "Expired", "too old resource version"))
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if backlog is None:
                error = _status(410, "Expired", f"too old resource version: {since}")
                self._chunk({"type": "ERROR", "object": error})
                return
            for past in backlog:
                self._chunk(past)
            while True:
                try:
                    event = watch.events.get(timeout=kube.bookmark_interval)
                except queue.Empty:
                    if bookmarks:
                        self._chunk(self._bookmark(res))
                    continue
                if event is None:
                    self.close_connection = True
                    return
                self._chunk(event)
                if event["type"] == "ERROR":
                    return
        finally:
            kube._unregister_watch(watch)
            with contextlib.suppress(OSError):
                self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True

    def _bookmark(self, res: ApiResource) -> dict[str, Any]:
        with self.kube._lock:
            rv = self.kube.resource_version
        return {
            "type": "BOOKMARK",
            "object": {
                "kind": res.kind,
                "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(rv)},
            },
        }

    def _chunk(self, event: dict[str, Any]) -> None:
        line = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        self.wfile.flush()

    def _get(self, res: ApiResource, namespace: str, name: str) -> None:
        with self.kube._lock:
            found = self.kube.objects[(res.group, res.version, res.plural)].get((namespace, name))
            obj = copy.deepcopy(found)
        if obj is None:
            return self._send_json(
                404, _status(404, "NotFound", f'{res.plural} "{name}" not found')
            )
        self._send_json(200, obj)

    def _delete(self, res: ApiResource, namespace: str, name: str) -> None:
        try:
            deleted = self.kube.delete(res.plural, name, namespace=namespace, group=res.group)
        except KeyError:
            return self._send_json(
                404, _status(404, "NotFound", f'{res.plural} "{name}" not found')
            )
        self._send_json(200, deleted)

    def _create(self, res: ApiResource, namespace: str | None, body: dict[str, Any]) -> None:
        if res.namespaced:
            body.setdefault("metadata", {})["namespace"] = namespace or "default"
        body.get("metadata", {}).pop("resourceVersion", None)
        try:
            created = self.kube.add(res.plural, body, group=res.group)
        except KeyError:
            name = body.get("metadata", {}).get("name")
            return self._send_json(
                409, _status(409, "AlreadyExists", f'{res.plural} "{name}" already exists')
            )
        self._send_json(201, created)

    def _replace(self, res: ApiResource, namespace: str, name: str, body: dict[str, Any]) -> None:
        kube = self.kube
        gvp = (res.group, res.version, res.plural)
        with kube._lock:
            current = kube.objects[gvp].get((namespace, name))
            if current is None:
                return self._send_json(
                    404, _status(404, "NotFound", f'{res.plural} "{name}" not found')
                )
            sent_rv = body.get("metadata", {}).get("resourceVersion")
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                return self._send_json(
                    409,
                    _status(
                        409,
                        "Conflict",
                        f'Operation cannot be fulfilled on {res.plural} "{name}": '
                        "the object has been modified; please apply your changes to the "
                        "latest version and try again",
                    ),
                )
            meta = body.setdefault("metadata", {})
            for kept in ("uid", "creationTimestamp", "namespace", "name"):
                if kept in current["metadata"]:
                    meta[kept] = current["metadata"][kept]
            body.setdefault("kind", res.kind)
            body.setdefault("apiVersion", res.api_version)
            updated = kube._commit(gvp, "MODIFIED", (namespace, name), body)
        self._send_json(200, updated)


if __name__ == "__main__":
    from obsyk_operator.testing.local_cluster import main

    raise SystemExit(main())
