"""The RQ worker behind ``obsyk worker``.

It does not fork: jobs are short and run one after another in the worker
process, each in a fresh app context, reusing the app's storage connection
pool (a forked work-horse would inherit the parent's database connections,
which is unsafe).  What a killed worker leaves behind is re-run by
``recover_pending``, so not forking costs no durability.

:func:`run_worker` keeps it working through Redis outages: rq waits for
Redis while it waits for a job, but quits when Redis fails at any other
moment (in the middle of a job's bookkeeping), and then a fresh worker starts.
"""

from __future__ import annotations

import threading
from types import FrameType
from typing import Any

from flask import Flask
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue

from reference_app.jobs.queue import RqJobQueue
from reference_app.jobs.supervision import RETRY_MAX_SECONDS, keep_running
from reference_app.logs import job_log_context
from reference_app.state import get_state

NEEDS_REDIS = "obsyk worker needs OBSYK_REDIS_URL: without it jobs run in-process"


class AppWorker(SimpleWorker):
    """rq's non-forking worker, running each job inside ``app.app_context()``."""

    app: Flask
    #: Set when a signal asks the worker to stop, so it is not started again.
    stopping: threading.Event | None = None
    #: Its work loop has returned (or raised).
    ended = False
    #: rq's longest wait between two attempts to reach Redis (its default is 60 s).
    max_connection_wait_time = RETRY_MAX_SECONDS

    def subscribe(self) -> None:
        """No command channel: stop the worker with SIGTERM.

        rq's pubsub thread serves remote commands (shutdown; kill or stop the
        work-horse, which a non-forking worker has not).  With redis-py 8 its
        ``stop()`` waits out the thread's 60 s poll, so a SIGTERM took up to a
        minute, and with Redis down it retries its subscription every 2 s.
        """

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping is not None:
            self.stopping.set()
        # rq's signal handlers outlive the worker that installed them: once it
        # has ended (Redis failed under it), a signal only stops what follows.
        if not self.ended:
            super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        with self.app.app_context(), job_log_context(job.id, job.func_name):
            result: bool = super().perform_job(job, queue, execution)
            return result


def make_worker(app: Flask, **kwargs: Any) -> AppWorker:
    """A worker on the app's queue and Redis connection."""
    jobs = get_state(app).jobs
    if not isinstance(jobs, RqJobQueue):
        raise RuntimeError(NEEDS_REDIS)
    worker = AppWorker([jobs.queue], connection=jobs.connection, **kwargs)
    worker.app = app
    return worker


def run_worker(app: Flask, stop: threading.Event) -> None:
    """Work until SIGTERM/SIGINT (or ``stop``), a fresh worker after each failure of the last."""

    def work() -> None:
        worker = make_worker(app)
        worker.stopping = stop
        try:
            worker.work()
        finally:
            worker.ended = True

    keep_running("the RQ worker", work, stop, expected=(RedisConnectionError, RedisTimeoutError))
