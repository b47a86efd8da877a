"""Jobs that run on a clock: crash recovery, history pruning, silent-cluster warnings.

Production: ``obsyk scheduler`` (or ``obsyk worker --with-scheduler``) runs
rq's :class:`~rq.cron.CronScheduler`, which enqueues these on the RQ queue.
Embedded default: a daemon thread of the app process enqueues them on the
in-process job thread.  Both use :func:`periodic_jobs`, so the schedule is
defined once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reference_app.jobs import staleness, tasks
from reference_app.state import get_state

if TYPE_CHECKING:
    from flask import Flask
    from redis import Redis
    from rq.cron import CronScheduler

    from reference_app.config import Settings

log = logging.getLogger(__name__)

HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    func: Callable[..., Any]
    interval_seconds: int


def periodic_jobs(settings: Settings) -> list[PeriodicJob]:
    return [
        PeriodicJob(tasks.recover_pending, settings.recovery_interval_seconds),
        PeriodicJob(tasks.prune_history, DAY),
        PeriodicJob(tasks.prune_sessions, HOUR),
        PeriodicJob(staleness.check_cluster_staleness, staleness.CHECK_INTERVAL_SECONDS),
    ]


def build_cron_scheduler(settings: Settings, connection: Redis) -> CronScheduler:
    """rq's scheduler with our periodic jobs on the app's queue."""
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=connection)
    for job in periodic_jobs(settings):
        scheduler.register(job.func, settings.queue_name, interval=job.interval_seconds)
    return scheduler


def run_cron_loop(scheduler: CronScheduler, stop: threading.Event) -> None:
    """rq's scheduling loop without its signal handlers, so it can run on a thread."""
    scheduler.register_birth()
    try:
        while not stop.is_set():
            if scheduler.enqueue_jobs():
                scheduler.save()
            scheduler.heartbeat()
            stop.wait(max(scheduler.calculate_sleep_interval(), 1.0))
    finally:
        scheduler.register_death()


def start_embedded_periodic_jobs(app: Flask) -> None:
    """In the embedded default, a thread queues the periodic jobs; recovery runs at start-up.

    Running ``recover_pending`` at start is what makes "restart mid-stream loses
    nothing" hold without Redis: a staged snapshot whose job died with the
    previous process is applied now.
    """
    state = get_state(app)
    if state.settings.redis_url or not state.settings.periodic_jobs:
        return
    stop = threading.Event()
    jobs = periodic_jobs(state.settings)

    def loop() -> None:
        next_run = [time.monotonic()] * len(jobs)
        while not stop.is_set():
            now = time.monotonic()
            for index, job in enumerate(jobs):
                if now >= next_run[index]:
                    state.jobs.enqueue(job.func, job_id=f"periodic:{job.func.__name__}")
                    next_run[index] = now + job.interval_seconds
            stop.wait(max(0.0, min(next_run) - time.monotonic()))

    thread = threading.Thread(target=loop, name="obsyk-periodic", daemon=True)
    thread.start()

    def stop_thread() -> None:
        stop.set()
        thread.join(timeout=5)

    state.stop_periodic = stop_thread
