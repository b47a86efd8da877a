"""One LIST of every Pod, in a process of its own, so its peak RSS is the path's alone.

``python _op_list_child.py {ours|models} URL PAGE_SIZE [SINK_URL]`` prints one
JSON object: objects held at the end, seconds, and peak RSS before and after the
LIST.  With ``SINK_URL`` (``ours`` only) the operator then sends the whole cache
as one snapshot to that platform (``bench/_op_sink.py``) through its own
:class:`~obsyk_operator.shipping.Shipper`, and the peak RSS of the send alone is
reported (the high-water mark is reset first, through ``/proc/self/clear_refs``).

Peak RSS is the kernel's high-water mark of this process's own memory
(``VmHWM``), not ``ru_maxrss``: Linux carries ``ru_maxrss`` across ``execve``,
so a child of the bench process (which holds every page in memory) would
report at least the parent's size.

* ``ours``: the operator's own path, :class:`obsyk_operator.watching.KindWatcher`'s
  ``relist`` over :class:`obsyk_operator.kube_api.KubeApi` (raw JSON, orjson),
  each Pod extracted and its record hashed into the local cache.
* ``models``: ``CoreV1Api.list_pod_for_all_namespaces`` page by page, the
  official client's default model deserialisation, every ``V1Pod`` kept by uid
  as an informer's store would.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client as k8s_client


def peak_rss_mib() -> float:
    """This process's peak resident memory since it was exec'd (``VmHWM``, in KiB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM in /proc/self/status (not Linux?)")


class _NoSink:
    def publish(self, change: Any) -> None:
        raise AssertionError("a first LIST publishes nothing")

    def kind_synced(self, kind: str) -> None:
        pass


def resident_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS in /proc/self/status (not Linux?)")


def reset_peak_rss() -> None:
    """Start a new high-water mark at the current RSS (Linux >= 4.0: ``5 > clear_refs``)."""
    Path("/proc/self/clear_refs").write_text("5")


class _StaticToken:
    def token(self) -> str:
        return "bench"

    def invalidate(self, token: str) -> None:
        pass


def send_snapshot(cache: Any, sink_url: str) -> dict[str, Any]:
    from obsyk_operator.platform_client import PlatformClient
    from obsyk_operator.send_queue import CoalescingQueue
    from obsyk_operator.settings import ShippingSettings
    from obsyk_operator.shipping import ClusterIdentity, Shipper

    shipper = Shipper(
        client=PlatformClient(base_url=sink_url, tokens=_StaticToken(), timeout=600),
        cache=cache,
        snapshot_keys={"Pod": "pods"},
        queue=CoalescingQueue(),
        cluster=ClusterIdentity(cluster_uid="bench", cluster_name="bench"),
        settings=ShippingSettings(),
        stop=threading.Event(),
    )
    rss_before = resident_mib()
    reset_peak_rss()
    start = time.perf_counter()
    shipper.request_snapshot()
    shipper.send_snapshot()
    return {
        "seconds": round(time.perf_counter() - start, 3),
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
    }


_CACHES: list[Any] = []


def list_ours(api_client: k8s_client.ApiClient, page_size: int) -> int:
    from obsyk_core import build_plugin_manager
    from obsyk_operator.kube_api import KubeApi
    from obsyk_operator.local_cache import LocalCache
    from obsyk_operator.watching import KindWatcher

    kind = build_plugin_manager().kinds.by_kind("Pod")
    cache = LocalCache(["Pod"])
    watcher = KindWatcher(
        kind="Pod",
        path="/api/v1/pods",
        api=KubeApi(api_client),
        extract=kind.extract,
        cache=cache["Pod"],
        sink=_NoSink(),
        stop=threading.Event(),
        page_size=page_size,
    )
    watcher.relist()
    _CACHES.append(cache)  # kept for the snapshot, when one is asked for
    return len(cache["Pod"])


def list_models(api_client: k8s_client.ApiClient, page_size: int) -> int:
    core = k8s_client.CoreV1Api(api_client)
    store: dict[str, Any] = {}
    token: str | None = None
    while True:
        if token:
            page = core.list_pod_for_all_namespaces(limit=page_size, _continue=token)
        else:
            page = core.list_pod_for_all_namespaces(limit=page_size)
        for pod in page.items:
            assert pod.metadata is not None and pod.metadata.uid
            store[pod.metadata.uid] = pod
        token = page.metadata._continue if page.metadata is not None else None
        if not token:
            return len(store)


def list_ours_collector_on(api_client: k8s_client.ApiClient, page_size: int) -> int:
    """``ours`` without the operator's collector pause around each page."""
    import obsyk_operator.watching

    obsyk_operator.watching.gc_paused = contextlib.nullcontext  # type: ignore[assignment,attr-defined]
    return list_ours(api_client, page_size)


PATHS = {"ours": list_ours, "ours_collector_on": list_ours_collector_on, "models": list_models}


def run(path: str, url: str, page_size: int, sink_url: str | None = None) -> dict[str, Any]:
    configuration = k8s_client.Configuration(host=url)
    api_client = k8s_client.ApiClient(configuration)
    before = peak_rss_mib()
    start, cpu = time.perf_counter(), time.process_time()
    objects = PATHS[path](api_client, page_size)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    result: dict[str, Any] = {
        "path": path,
        "objects": objects,
        "seconds": round(seconds, 3),
        "objects_per_s": round(objects / seconds, 1),
        "cpu_us_per_object": round(cpu / objects * 1e6, 1),
        "rss_before_mib": before,
        "peak_rss_mib": peak_rss_mib(),
    }
    if sink_url:
        result["snapshot"] = send_snapshot(_CACHES.pop(), sink_url)
    return result


if __name__ == "__main__":
    sink = sys.argv[4] if len(sys.argv) > 4 else None
    print(json.dumps(run(sys.argv[1], sys.argv[2], int(sys.argv[3]), sink)))
