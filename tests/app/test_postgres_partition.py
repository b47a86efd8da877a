"""PostgreSQL gone silent: the platform's connections carry limits that end the wait.

A server that stops answering without closing anything (a partition, a dead
host, a hung proxy) must fail a request in bounded time, as a 503, instead of
holding the request and its server thread forever.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from outages import SilentProxy

from obsyk_core.storage import StorageError
from obsyk_plugins.sql_storage import open_sql_storage
from obsyk_plugins.sql_storage.backend import SqlStorage

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def silent_proxy(postgres_url: str) -> Iterator[SilentProxy]:
    proxy = SilentProxy(urlsplit(postgres_url).port or 5432)
    yield proxy
    proxy.close()


def through(proxy: SilentProxy, postgres_url: str, query: str = "") -> str:
    """``postgres_url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(postgres_url)
    netloc = f"{parts.username}@127.0.0.1:{proxy.port}"
    return parts._replace(netloc=netloc, query=query).geturl()


def socket_options(storage: SqlStorage) -> dict[str, int]:
    """The TCP options the kernel enforces on one of the storage's pooled connections."""
    with storage.engine.connect() as connection:
        fileno = connection.connection.dbapi_connection.fileno()  # type: ignore[union-attr]
        with socket.socket(fileno=socket.dup(fileno)) as sock:
            return {
                "keepalive": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                "idle": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                "interval": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                "count": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                "user_timeout_ms": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
            }


def test_postgresql_connections_carry_keepalives_and_a_user_timeout(postgres_url: str) -> None:
    # What bounds a partition on an established connection is the kernel: a
    # waiting connection is probed and closed (~60 s), unacknowledged data
    # fails it (30 s).  The URL's own values win.
    default = open_sql_storage(postgres_url)
    tuned = open_sql_storage(f"{postgres_url}?keepalives_idle=7&tcp_user_timeout=4000")
    try:
        assert socket_options(default) == {
            "keepalive": 1,
            "idle": 30,
            "interval": 10,
            "count": 3,
            "user_timeout_ms": 30_000,
        }
        tuned_options = socket_options(tuned)
        assert (tuned_options["idle"], tuned_options["user_timeout_ms"]) == (7, 4000)
    finally:
        default.close()
        tuned.close()


def test_a_silent_postgresql_fails_a_new_connection_after_its_connect_timeout(
    postgres_url: str, silent_proxy: SilentProxy
) -> None:
    # A process that starts, or reconnects after its pool was invalidated, while
    # the database is unreachable without a refusal: StorageError (a 503 on a
    # request) after connect_timeout, not a wait without end.
    storage = open_sql_storage(through(silent_proxy, postgres_url, "connect_timeout=2"))
    silent_proxy.go_silent()
    started = time.monotonic()
    try:
        with pytest.raises(StorageError, match="database unavailable"):
            storage.get_org("anyone")
    finally:
        storage.close()
    assert time.monotonic() - started < 6
