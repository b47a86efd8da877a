"""A scaled-out platform on one machine, and clusters streaming into it (test and bench).

:class:`Platform` runs what the prod overlay runs, as processes: ``obsyk db
upgrade``, two API processes (``obsyk serve``) behind one address (a
round-robin TCP proxy, as a Service spreads connections), two RQ workers and
the scheduler, on one PostgreSQL database and one Redis.  Any of them can be
killed (SIGKILL) and started again.

Each cluster runs in a process of its own (:func:`run_cluster`): a
``KubeServer`` seeded with the demo objects plus ``size`` Pods, a real
operator shipping to the platform's address, and churn (Pods added, relabelled,
deleted) for a while.  When the churn stops it reports what the platform must
end up with: every watched object's uid and labels, and how many changes the
API server made to each uid (an upper bound on the history versions).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outages import free_port, wait_for_port

#: The kinds the operators watch (Secrets are left out: their data hashes add nothing here).
KINDS = frozenset({"Namespace", "Node", "Pod", "Service", "ConfigMap", "Deployment"})
_CLI = "from reference_app.cli import main; main()"


class RoundRobinProxy:
    """One address in front of several backends: each new connection goes to the next one
    that accepts (a dead backend is skipped, as a Service skips an unready pod)."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self._next = itertools.cycle(range(len(ports)))
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, name="rr-proxy", daemon=True).start()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()

    def _backend(self) -> socket.socket | None:
        for _ in self.ports:
            with self._lock:
                port = self.ports[next(self._next)]
            try:
                return socket.create_connection(("127.0.0.1", port), timeout=2)
            except OSError:
                continue
        return None

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            backend = self._backend()
            if backend is None:
                client.close()
                continue
            backend.settimeout(None)
            for source, sink in ((client, backend), (backend, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@dataclass
class Platform:
    """The platform's processes; ``name -> Popen``, each restartable by name."""

    database_url: str
    redis_url: str
    workdir: Path
    api_threads: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.api_ports = {"api-1": free_port(), "api-2": free_port()}
        self.worker_metrics_ports = {"worker-1": free_port(), "worker-2": free_port()}
        self.proxy = RoundRobinProxy(list(self.api_ports.values()))
        self.url = f"http://127.0.0.1:{self.proxy.port}"
        self.env = {
            **os.environ,
            "OBSYK_DATABASE_URL": self.database_url,
            "OBSYK_REDIS_URL": self.redis_url,
            "OBSYK_SECRET_KEY": "scale-out-test-secret-key",
            "OBSYK_PUBLIC_URL": self.url,
            "OBSYK_AUTO_MIGRATE": "false",
            "OBSYK_PERIODIC_JOBS": "false",
            "OBSYK_ACCESS_LOG": "false",
            "OBSYK_RECOVERY_INTERVAL_SECONDS": "2",
            # Every snapshot is staged and applied by a worker, as large ones are in production.
            "OBSYK_ASYNC_SNAPSHOT_BYTES": "4096",
            "OBSYK_INSTANCE_PATH": str(self.workdir / "instance"),
            **self.extra_env,
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)

    def commands(self) -> dict[str, list[str]]:
        api = ["serve", "--host", "127.0.0.1", "--workers", "1", "--threads"]
        return {
            **{
                name: [*api, str(self.api_threads), "--port", str(port)]
                for name, port in self.api_ports.items()
            },
            **{
                name: ["worker", "--metrics-port", str(port)]
                for name, port in self.worker_metrics_ports.items()
            },
            "scheduler": ["scheduler"],
        }

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "-c", _CLI, "db", "upgrade"], env=self.env, check=True, timeout=120,
            capture_output=True,
        )  # fmt: skip

    def start(self) -> None:
        self.migrate()
        for name in self.commands():
            self.start_one(name)
        for port in self.api_ports.values():
            wait_for_port(port, timeout=60)

    def start_one(self, name: str) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-c", _CLI, *self.commands()[name]],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()

    def kill(self, name: str) -> None:
        """SIGKILL the process and whatever it forked (gunicorn's workers)."""
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def restart(self, name: str) -> None:
        self.start_one(name)
        if name in self.api_ports:
            wait_for_port(self.api_ports[name], timeout=60)

    def pids(self, name: str) -> list[int]:
        """The process and its children (gunicorn's master and worker)."""
        root = self.processes[name].pid
        children = Path(f"/proc/{root}/task/{root}/children")
        kids = [int(pid) for pid in children.read_text().split()] if children.exists() else []
        return [root, *kids]

    def stop(self) -> None:
        for _name, process in self.processes.items():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        self.proxy.close()


@dataclass(frozen=True)
class ClusterPlan:
    index: int
    platform_url: str
    client_id: str
    private_key_pem: str
    workdir: str
    size: int
    churn_seconds: float
    churn_interval: float
    #: Random existing Pods relabelled per tick, besides the add/relabel/delete of Churn.
    relabels_per_tick: int = 2
    #: Seconds between full snapshots, so snapshots keep flowing through the workers.
    resync_interval: float = 4.0
    #: Each heartbeat carries per-kind digests: under churn they differ from the stored
    #: state while changes are in flight, and the platform then asks for a resync.
    heartbeat_interval: float = 2.0


def run_cluster(plan: ClusterPlan, results: Any, finish: Any) -> None:
    """A cluster process: serve, seed, operate, churn, report, keep shipping until ``finish``."""
    from obsyk_operator.operator import Operator
    from obsyk_operator.settings import (
        KubeSettings,
        PlatformSettings,
        SelectionSettings,
        Settings,
        ShippingSettings,
    )
    from obsyk_operator.testing.kube_server import KubeServer
    from obsyk_operator.testing.local_cluster import NODES, Churn, pod, seed

    # The operator's log lines go to a file per cluster, not the caller's terminal.
    log = os.open(Path(plan.workdir) / f"cluster-{plan.index}.log", os.O_WRONLY | os.O_CREAT)
    os.dup2(log, 1)
    os.dup2(log, 2)
    server = KubeServer().start()
    seed(server, "demo")
    for number in range(plan.size):
        namespace = ("default", "shop", "monitoring")[number % 3]
        server.add("pods", pod(f"bulk-{number}", namespace, "bulk", "app:1", NODES[number % 2]))
    kubeconfig = server.write_kubeconfig(Path(plan.workdir) / f"kubeconfig-{plan.index}")
    operator = Operator(
        Settings(
            cluster_name=f"cluster-{plan.index}",
            platform=PlatformSettings(
                url=plan.platform_url,
                client_id=plan.client_id,
                private_key_pem=plan.private_key_pem,
                request_timeout=30.0,
            ),
            kube=KubeSettings(kubeconfig=str(kubeconfig), request_timeout=30.0),
            selection=SelectionSettings(kinds=KINDS),
            shipping=ShippingSettings(
                initial_backoff=0.1,
                max_backoff=1.0,
                heartbeat_interval=plan.heartbeat_interval,
                resync_interval=plan.resync_interval,
                # Small chunks: snapshots are staged and applied by the workers.
                snapshot_chunk_bytes=256 * 1024,
            ),
            health_port=None,
            metrics_port=None,
        )
    ).start()
    churn = Churn(server, plan.churn_interval, threading.Event(), lambda line: None)
    rng = random.Random(plan.index)
    deadline = time.monotonic() + plan.churn_seconds
    while time.monotonic() < deadline:
        churn.step()
        for _ in range(plan.relabels_per_tick if plan.size else 0):
            number = rng.randrange(plan.size)
            namespace = ("default", "shop", "monitoring")[number % 3]
            labels = {"metadata": {"labels": {"rev": str(churn.tick)}}}
            server.modify("pods", f"bulk-{number}", labels, namespace=namespace)
        time.sleep(plan.churn_interval)
    results.put((plan.index, server.kube_system_uid, _expected(server)))
    finish.wait()
    operator.stop()
    server.stop()


def _expected(server: Any) -> dict[str, Any]:
    """Watched objects' labels by uid, and the changes the API server made per uid."""
    kinds = {res.plural: res.kind for res in server.resources.values() if res.kind in KINDS}
    live = {}
    with server._lock:  # the test server's own state, read between two changes
        for (_, _, plural), objects in server.objects.items():
            if plural in kinds:
                for obj in objects.values():
                    live[obj["metadata"]["uid"]] = obj["metadata"].get("labels") or {}
        changes = Counter(
            change.obj["metadata"]["uid"]
            for change in server.history
            if change.obj.get("kind") in KINDS
        )
    return {"live": live, "changes": dict(changes)}


def start_clusters(plans: list[ClusterPlan]) -> tuple[list[Any], Any, Any]:
    """Each plan in its own process; returns (processes, results queue, finish event)."""
    context = multiprocessing.get_context("spawn")
    results, finish = context.Queue(), context.Event()
    processes = [
        context.Process(target=run_cluster, args=(plan, results, finish), daemon=True)
        for plan in plans
    ]
    for process in processes:
        process.start()
    return processes, results, finish


def platform_state(database_url: str, cluster_id: str) -> tuple[dict[str, Any], dict[str, list]]:
    """(live uid -> labels, uid -> [(change, content_hash), ...] in order) as stored."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        live = dict(
            conn.execute(
                "SELECT uid, labels FROM resources"
                " WHERE cluster_id::text = %s AND deleted_at IS NULL",
                (cluster_id,),
            ).fetchall()
        )
        history: dict[str, list] = {}
        for uid, change, content_hash in conn.execute(
            "SELECT uid, change, content_hash FROM resource_versions"
            " WHERE cluster_id::text = %s ORDER BY uid, id",
            (cluster_id,),
        ):
            history.setdefault(uid, []).append((change, content_hash))
    return live, history


def history_problems(history: dict[str, list], changes: dict[str, int]) -> list[str]:
    """Versions that are not real changes: a repeat of the previous state, or more versions
    than the API server made changes."""
    problems = []
    for uid, versions in history.items():
        for before, after in itertools.pairwise(versions):
            if before == after:
                problems.append(f"{uid}: version {after} repeats the one before")
        if len(versions) > changes.get(uid, 0):
            problems.append(f"{uid}: {len(versions)} versions for {changes.get(uid, 0)} changes")
    return problems
