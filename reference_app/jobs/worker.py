"""The RQ worker behind ``obsyk worker``.

It does not fork: jobs are short and run one after another in the worker
process, each in a fresh app context, reusing the app's storage connection
pool (a forked work-horse would inherit the parent's database connections,
which is unsafe).  What a killed worker leaves behind is re-run by
``recover_pending``, so not forking costs no durability.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from rq import SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue

from reference_app.jobs.queue import RqJobQueue
from reference_app.state import get_state


class AppWorker(SimpleWorker):
    """rq's non-forking worker, running each job inside ``app.app_context()``."""

    app: Flask

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        with self.app.app_context():
            result: bool = super().perform_job(job, queue, execution)
            return result


def make_worker(app: Flask, **kwargs: Any) -> AppWorker:
    """A worker on the app's queue and Redis connection."""
    jobs = get_state(app).jobs
    if not isinstance(jobs, RqJobQueue):
        raise RuntimeError("obsyk worker needs OBSYK_REDIS_URL: without it jobs run in-process")
    worker = AppWorker([jobs.queue], connection=jobs.connection, **kwargs)
    worker.app = app
    return worker
