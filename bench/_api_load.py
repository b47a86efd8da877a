"""A closed-loop HTTP load generator: processes of threads, one keep-alive connection each.

Each connection POSTs pre-encoded bodies back to back for a fixed time; only
requests started after the warm-up and finished before the deadline count.
``http.client`` (not ``requests``) keeps the client's own CPU cost low: on a
2-core machine the client shares the cores with the server it measures.
Processes are started with ``spawn``, so nothing of the parent (database
connections, threads) leaks into them.
"""

from __future__ import annotations

import http.client
import multiprocessing
import threading
import time
from dataclasses import dataclass
from typing import Any

#: Replaced in every body by a number unique to the connection, so each request changes data.
REVISION = b"__REV__"


@dataclass(frozen=True, slots=True)
class Connection:
    """One client connection: where it posts, as whom, and the bodies it cycles through."""

    path: str
    headers: dict[str, str]
    #: Body templates holding :data:`REVISION`; request ``n`` sends ``templates[n % len]``.
    templates: list[bytes]
    items_per_request: int = 1


@dataclass(frozen=True, slots=True)
class Plan:
    host: str
    port: int
    start_at: float  # time.time() at which every connection starts
    warmup_seconds: float
    measure_seconds: float


def _connection_loop(plan: Plan, conn_spec: Connection, out: dict[str, Any]) -> None:
    conn = http.client.HTTPConnection(plan.host, plan.port, timeout=120)
    headers = {**conn_spec.headers, "Content-Type": "application/json"}
    measure_from = plan.start_at + plan.warmup_seconds
    deadline = measure_from + plan.measure_seconds
    latencies: list[float] = []
    errors: dict[str, int] = {}
    n = 0
    time.sleep(max(0.0, plan.start_at - time.time()))
    while True:
        begun_wall = time.time()
        if begun_wall >= deadline:
            break
        template = conn_spec.templates[n % len(conn_spec.templates)]
        body = template.replace(REVISION, str(n).encode())
        n += 1
        start = time.perf_counter()
        try:
            conn.request("POST", conn_spec.path, body, headers)
            response = conn.getresponse()
            response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException) as error:
            status = type(error).__name__
            conn.close()
            conn = http.client.HTTPConnection(plan.host, plan.port, timeout=120)
        elapsed = time.perf_counter() - start
        if begun_wall < measure_from or time.time() > deadline:
            continue
        if status.startswith("2"):
            latencies.append(elapsed)
        else:
            errors[status] = errors.get(status, 0) + 1
    conn.close()
    out["latencies"] = latencies
    out["errors"] = errors
    out["items_per_request"] = conn_spec.items_per_request


def _client_process(plan: Plan, specs: list[Connection]) -> list[dict[str, Any]]:
    outs: list[dict[str, Any]] = [{} for _ in specs]
    threads = [
        threading.Thread(target=_connection_loop, args=(plan, spec, out))
        for spec, out in zip(specs, outs, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outs


def drive(
    host: str,
    port: int,
    connections: list[Connection],
    *,
    processes: int,
    warmup_seconds: float,
    measure_seconds: float,
) -> dict[str, Any]:
    """Run every connection (spread over ``processes``) and sum up: requests, items, latencies."""
    groups = [connections[i::processes] for i in range(processes)]
    groups = [group for group in groups if group]
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(groups)) as pool:
        # Spawned interpreters take a second or two to start: start together, later.
        plan = Plan(host, port, time.time() + 3.0, warmup_seconds, measure_seconds)
        results = pool.starmap(_client_process, [(plan, group) for group in groups])
    outs = [out for group in results for out in group]
    latencies = [seconds for out in outs for seconds in out["latencies"]]
    requests = len(latencies)
    items = sum(len(out["latencies"]) * out["items_per_request"] for out in outs)
    errors: dict[str, int] = {}
    for out in outs:
        for status, count in out["errors"].items():
            errors[status] = errors.get(status, 0) + count
    return {
        "connections": len(connections),
        "client_processes": len(groups),
        "measure_seconds": measure_seconds,
        "requests": requests,
        "items": items,
        "requests_per_s": round(requests / measure_seconds, 1),
        "items_per_s": round(items / measure_seconds, 1),
        "errors": errors,
        "latencies": latencies,
    }
