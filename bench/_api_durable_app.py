"""The baseline of ``cluster_events``: a bare Flask app doing one durable upsert per request.

Run as ``python _api_durable_app.py PORT WORKERS THREADS DATABASE_URL``: served
by the platform's own gunicorn runner with the options ``obsyk serve`` uses.
Each request's body is parsed, and its object upserted by uid into a table
with a primary key (``INSERT ... ON CONFLICT``) and committed (a synchronous
commit: the same durability as the platform's), on a connection kept per
thread.  No authentication, validation, history or ordering: the floor of a
durable write per request on this stack.
"""

from __future__ import annotations

import sys
import threading

import orjson
import psycopg
from flask import Flask, request
from psycopg.types.json import Jsonb

EVENTS_PATH = "/api/v1/agent/events"
TABLE = "bench_durable_events"
CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (uid text PRIMARY KEY, body jsonb NOT NULL)"
UPSERT = (
    f"INSERT INTO {TABLE} (uid, body) VALUES (%s, %s)"
    " ON CONFLICT (uid) DO UPDATE SET body = EXCLUDED.body"
)


def create_durable_app(database_url: str) -> Flask:
    app = Flask(__name__)
    local = threading.local()

    def connection() -> psycopg.Connection[tuple[object, ...]]:
        conn: psycopg.Connection[tuple[object, ...]] | None = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(database_url)
        return conn

    @app.post(EVENTS_PATH)
    def events() -> tuple[str, int]:
        body = orjson.loads(request.get_data())
        conn = connection()
        conn.execute(UPSERT, [body["uid"], Jsonb(body["object"])])
        conn.commit()
        return "", 200

    return app


if __name__ == "__main__":
    from reference_app.serve import gunicorn_options, run

    port, workers, threads = (int(value) for value in sys.argv[1:4])
    url = sys.argv[4]
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute(CREATE)
    options = gunicorn_options(
        "127.0.0.1", port, in_process_jobs=False, workers=workers, threads=threads
    )
    run(lambda: create_durable_app(url), options)
