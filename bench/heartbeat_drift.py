"""Resync snapshots caused by churn: the operator against the real reference app.

One operator (Kubernetes test server, page size 500) ships N Pods to the
reference app (embedded SQLite, in-process jobs); then Pods are modified at a
steady rate for T seconds while the operator beats every H seconds.  Counted:
the snapshots the operator sent after the first one (each a full snapshot of
the kind the platform asked for) and the heartbeats.  ``--without`` runs the
operator leaving every kind in its heartbeat (the drift check as it was), so
with and without run in one process, interleaved.  The platform's own guard
(no comparison while a staged snapshot waits for its job) is on in both.

Prints one JSON object per run.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from obsyk_core.plugins import build_plugin_manager
from obsyk_operator.operator import Operator
from obsyk_operator.testing.kube_server import KubeServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "operator"))
from operator_support import operator_settings


def pod(name: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx:1"}]},
        "status": {"phase": "Pending"},
    }


def run(*, pods: int, seconds: float, rate: float, heartbeat: float, fixed: bool) -> dict:
    from reference_app import create_app
    from reference_app.app import close_app
    from reference_app.auth.credentials import register_cluster
    from reference_app.state import get_state

    with tempfile.TemporaryDirectory() as tmp, socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        url = f"http://127.0.0.1:{port}"
        app = create_app(
            {
                "TESTING": True,
                "INSTANCE_PATH": f"{tmp}/instance",
                "PUBLIC_URLS": url,
                "PERIODIC_JOBS": False,
            }
        )
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        storage = get_state(app).storage
        registration = register_cluster(storage, storage.create_org("bench").id, "bench")
        kube = KubeServer().start()
        for i in range(pods):
            kube.add("pods", pod(f"p{i}"))
        settings = operator_settings(
            platform_url=url,
            client_id=registration.client_id,
            private_key_pem=registration.private_key_pem,
            kubeconfig=kube.write_kubeconfig(Path(tmp) / "kubeconfig"),
            kinds=frozenset({"Pod"}),
            shipping={"heartbeat_interval": heartbeat, "resync_interval": 3600.0},
        )
        operator = Operator(settings, kinds=build_plugin_manager().kinds).start()
        try:
            if not fixed:
                operator.heartbeat.unsettled = set  # every kind compared, in flight or not
                operator.heartbeat.changes_put = dict  # and every answer believed
            while operator.shipper.snapshots_sent < 1:
                time.sleep(0.05)
            beats, cpu = operator.heartbeat.sent, time.process_time()
            started = time.monotonic()
            n = 0
            while time.monotonic() - started < seconds:
                kube.modify("pods", f"p{n % pods}", {"status": {"phase": f"Running-{n}"}})
                n += 1
                time.sleep(max(0.0, started + n / rate - time.monotonic()))
            return {
                "fixed": fixed,
                "pods": pods,
                "modifications": n,
                "heartbeats": operator.heartbeat.sent - beats,
                "resync_snapshots": operator.shipper.snapshots_sent - 1,
                "process_cpu_s": round(time.process_time() - cpu, 2),
            }
        finally:
            operator.stop()
            kube.stop()
            server.shutdown()
            close_app(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=100.0, help="modifications per second")
    parser.add_argument("--heartbeat", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="500 Pods, 8 s")
    args = parser.parse_args()
    if args.quick:
        args.pods, args.seconds = 500, 8.0
    for _ in range(args.rounds):
        for fixed in (False, True):
            result = run(
                pods=args.pods,
                seconds=args.seconds,
                rate=args.rate,
                heartbeat=args.heartbeat,
                fixed=fixed,
            )
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
