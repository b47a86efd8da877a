"""``obsyk-operator run``: every flag also as an ``OBSYK_*`` environment variable.

Start-up problems (no key, a malformed key, an unreachable API server, a
platform refusing the credential) end the process with one clear line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog

from obsyk_operator.cluster_secrets import SecretError, load_credentials
from obsyk_operator.kube_api import KubeApi, KubeApiError, load_api_client
from obsyk_operator.operator import Operator, StartupError
from obsyk_operator.settings import (
    DataHashSettings,
    KubeSettings,
    LeaderSettings,
    PlatformSettings,
    SelectionSettings,
    Settings,
    ShippingSettings,
)
from obsyk_operator.tokens import CredentialError


def _env_name(flag: str) -> str:
    return "OBSYK_" + flag.lstrip("-").replace("-", "_").upper()


def duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``6h`` or ``1d``."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use 90s, 15m, 6h)") from None


def _names(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="obsyk-operator", description="Stream this cluster's inventory to an Obsyk platform."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="watch the cluster and ship to the platform")

    def add(flag: str, **kwargs: Any) -> None:
        env = _env_name(flag)
        default = kwargs.pop("default", None)
        if env in os.environ:
            default = os.environ[env]
            if kwargs.get("action") == "store_true":
                default = os.environ[env].lower() in ("1", "true", "yes", "on")
            elif "type" in kwargs:
                default = kwargs["type"](default)
        kwargs["help"] = f"{kwargs.get('help', '')} (env {env})".strip()
        run.add_argument(flag, default=default, **kwargs)

    add("--platform-url", help="base URL of the platform, exactly as registered")
    add("--client-id", help="the cluster credential's client id")
    add("--private-key-file", help="PEM file of the credential's ECDSA P-256 private key")
    add("--credentials-secret", help="read client_id/private_key from this Secret instead")
    add("--cluster-name", help="name shown for this cluster")
    add("--kubeconfig", help="kubeconfig file (default: in-cluster service account)")
    add("--namespace", default="obsyk-system", help="the operator's own namespace")
    add("--heartbeat-interval", type=duration, default=60.0, help="seconds between heartbeats")
    add("--resync-interval", type=duration, default=6 * 3600.0, help="full snapshot period")
    add(
        "--discovery-interval",
        type=duration,
        default=300.0,
        help="how often to check which kinds the cluster serves (CRDs added or removed)",
    )
    add("--kinds", type=_names, help="comma-separated kinds to watch (default: all)")
    add("--exclude-kinds", type=_names, default=frozenset(), help="kinds not to watch")
    add("--namespaces", type=_names, help="only these namespaces (default: all)")
    add("--exclude-namespaces", type=_names, default=frozenset(), help="skip these namespaces")
    add("--leader-elect", action="store_true", help="elect a leader among replicas over a Lease")
    add("--lease-namespace", help="namespace of the Lease (default: --namespace)")
    add("--lease-name", default="obsyk-operator", help="name of the Lease")
    add("--health-port", type=int, default=8081, help="port of /healthz and /readyz")
    add("--metrics-port", type=int, default=8080, help="port of /metrics")
    add("--no-data-hashes", action="store_true", help="do not send HMACs of Secret values")
    add("--allow-insecure-http", action="store_true", help="allow a non-loopback http:// URL")
    add("--log-level", default="info", help="debug, info, warning or error")
    return parser


def check_platform_url(url: str, *, allow_insecure_http: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StartupError(f"--platform-url {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise StartupError(
            f"refusing to send credentials over plain http to {parts.hostname}; "
            "use https or pass --allow-insecure-http"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_from_args(args: argparse.Namespace) -> Settings:
    for required in ("platform_url", "cluster_name"):
        if not getattr(args, required):
            flag = "--" + required.replace("_", "-")
            raise StartupError(f"{flag} is required (or set {_env_name(flag)})")
    check_platform_url(args.platform_url, allow_insecure_http=args.allow_insecure_http)
    client_id, private_key = _credentials(args)
    lease_namespace = args.lease_namespace or args.namespace
    return Settings(
        cluster_name=args.cluster_name,
        platform=PlatformSettings(
            url=args.platform_url, client_id=client_id, private_key_pem=private_key
        ),
        kube=KubeSettings(kubeconfig=args.kubeconfig, discovery_interval=args.discovery_interval),
        selection=SelectionSettings(
            kinds=args.kinds,
            exclude_kinds=args.exclude_kinds,
            namespaces=args.namespaces,
            exclude_namespaces=args.exclude_namespaces,
        ),
        shipping=ShippingSettings(
            heartbeat_interval=args.heartbeat_interval, resync_interval=args.resync_interval
        ),
        leader=LeaderSettings(
            enabled=args.leader_elect, namespace=lease_namespace, name=args.lease_name
        ),
        data_hashes=DataHashSettings(enabled=not args.no_data_hashes, namespace=args.namespace),
        health_port=args.health_port,
        metrics_port=args.metrics_port,
    )


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    if args.credentials_secret:
        kube = KubeApi(load_api_client(args.kubeconfig))
        try:
            return load_credentials(kube, namespace=args.namespace, name=args.credentials_secret)
        except (SecretError, KubeApiError) as exc:
            raise StartupError(str(exc)) from None
    if not args.client_id:
        raise StartupError("--client-id is required (or --credentials-secret)")
    if not args.private_key_file:
        raise StartupError("--private-key-file is required (or --credentials-secret)")
    try:
        return args.client_id, Path(args.private_key_file).read_text()
    except OSError as exc:
        raise StartupError(f"cannot read the private key file: {exc.strerror}") from None


def configure_logging(level: str) -> None:
    """One JSON object per line on stderr, the format log collectors expect.

    Libraries' standard-library log records (urllib3's, the kubernetes
    client's) are rendered as the same JSON lines, with their logger's name.
    """
    numeric = getattr(logging, level.upper(), logging.INFO)
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                timestamper,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    logging.basicConfig(level=numeric, handlers=[handler])
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            timestamper,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


def run(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    stop = stop or threading.Event()
    settings = settings_from_args(args)
    operator = Operator(settings).start()
    try:
        stop.wait()
    finally:
        operator.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        return run(args, stop=stop)
    except (StartupError, CredentialError, SecretError) as exc:
        print(f"obsyk-operator: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the kubernetes config loaders raise their own types
        if type(exc).__name__ == "ConfigException":
            print(f"obsyk-operator: error: kubernetes configuration: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
