"""The baseline of ``api_ingest``: a bare Flask app whose one POST route answers 200.

Run as ``python _api_bare_app.py PORT WORKERS THREADS``: it is served by the
platform's own gunicorn runner with the options ``obsyk serve`` uses, so the
only difference from the platform is the work done per request.
"""

from __future__ import annotations

import sys

from flask import Flask

EVENTS_PATH = "/api/v1/agent/events"


def create_bare_app() -> Flask:
    app = Flask(__name__)

    @app.post(EVENTS_PATH)
    def events() -> tuple[str, int]:
        return "", 200

    return app


if __name__ == "__main__":
    from reference_app.serve import gunicorn_options, run

    port, workers, threads = (int(value) for value in sys.argv[1:4])
    options = gunicorn_options(
        "127.0.0.1", port, in_process_jobs=False, workers=workers, threads=threads
    )
    run(create_bare_app, options)
