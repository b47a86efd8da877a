"""Engines configured for how the backend uses each database.

SQLite: WAL (readers never block the writer), a busy timeout (writers queue
instead of failing), foreign keys on, case-sensitive ``LIKE`` (as on
PostgreSQL), and SQLAlchemy's transaction handling taken over so ingestion can
``BEGIN IMMEDIATE`` — the pysqlite driver's own implicit BEGIN is disabled, as
in SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL"
recipe.  PostgreSQL: psycopg 3, sessions in UTC, and no ``pool_pre_ping``: a
ping is a round trip on every checkout, i.e. on every storage call of every
request.  A connection that died in the pool (server restart, killed backend)
instead fails its first statement; SQLAlchemy recognises the disconnect and
invalidates it together with every older pooled connection, ``storage_errors``
turns the failure into :class:`~obsyk_core.storage.StorageError` (the app
answers 503, clients retry), and the next checkout connects afresh.  A server
that vanishes without closing anything (a partition, a dead host) is found by
the connection's own limits, :data:`POSTGRES_NETWORK_LIMITS`, instead of
leaving a request waiting on a socket for the kernel's two hours.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from obsyk_plugins.sql_storage.urls import is_sqlite_memory, sqlalchemy_url

#: Execution option naming the SQLite BEGIN mode for a connection's next transaction.
SQLITE_BEGIN_OPTION = "obsyk_sqlite_begin"
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: libpq parameters bounding a network failure; the URL's own (``?keepalives_idle=10``) win.
#: A connection attempt gives up after 10 s; data the server does not acknowledge
#: fails the connection after 30 s, and a connection waiting on a silent server
#: is probed after 30 s of quiet, every 10 s, and closed after 3 unanswered probes.
POSTGRES_NETWORK_LIMITS: dict[str, int] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
#: Connections kept open per process.  SQLAlchemy's default (5 + 10 overflow)
#: closes every connection above 5 when it is returned, so ``obsyk serve``'s 8
#: threads per worker would connect afresh (a new backend process) on busy
#: requests; 16 covers the threads, the job thread and a reader at once.
POSTGRES_POOL_SIZE = 16


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_storage_engine(url: str) -> Engine:
    target = sqlalchemy_url(url)
    common: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if target.startswith("sqlite"):
        return _sqlite_engine(url, target, common)
    given = set(make_url(target).query)
    limits = {name: value for name, value in POSTGRES_NETWORK_LIMITS.items() if name not in given}
    return create_engine(
        target,
        connect_args={"options": "-c timezone=UTC", **limits},
        pool_size=POSTGRES_POOL_SIZE,
        **common,
    )


def _sqlite_engine(url: str, target: str, common: dict[str, Any]) -> Engine:
    connect_args: dict[str, Any] = {
        "check_same_thread": False,
        "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
    }
    if is_sqlite_memory(url):
        # One private database per engine: every checkout must see the same connection.
        engine = create_engine(target, poolclass=StaticPool, connect_args=connect_args, **common)
    else:
        engine = create_engine(target, connect_args=connect_args, **common)
        database = engine.url.database
        if database and not database.startswith("file:"):
            _create_private(database)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _create_private(path: str) -> None:
    """Create a new database file readable by its owner alone (as the secret key is).

    SQLite would create it 0644 (less the umask); its ``-wal`` and ``-shm`` files
    take the database file's mode, so they are private too.  An existing file
    keeps its mode, and a missing folder is left for SQLite to report.
    """
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _configure_sqlite_connection(
    dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry
) -> None:
    # Stop pysqlite from issuing BEGIN itself; _begin_sqlite_transaction does it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL, much faster
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA case_sensitive_like=ON")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front: a writer waits its turn (busy
    # timeout) instead of failing when it upgrades a read lock mid-transaction.
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")
