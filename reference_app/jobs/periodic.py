"""Jobs that run on a clock: crash recovery, history pruning, silent-cluster warnings.

Production: ``obsyk scheduler`` (or ``obsyk worker --with-scheduler``) runs
rq's :class:`~rq.cron.CronScheduler`, which enqueues these on the RQ queue,
in a loop that outlives Redis outages and, supervised, its own failures
(:func:`run_scheduler`).  Embedded default: a daemon thread of the app process enqueues them on the
in-process job thread.  Both use :func:`periodic_jobs`, so the schedule is
defined once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reference_app.jobs import staleness, tasks
from reference_app.jobs.supervision import RETRY_MAX_SECONDS, keep_running
from reference_app.state import get_state

if TYPE_CHECKING:
    from flask import Flask
    from redis import Redis
    from rq.cron import CronScheduler

    from reference_app.config import Settings

log = logging.getLogger(__name__)

HOUR = 3600
DAY = 24 * HOUR
#: Longest wait between two turns of a healthy loop (and two health reports); also
#: how long a Redis outage or restart may go unnoticed between two turns.
BEAT_SECONDS = 5.0
#: The job id of the recovery queued when Redis comes back (a waiting one is not queued twice).
RECOVER_AFTER_OUTAGE_JOB_ID = "periodic:recover_pending:after-outage"
#: The loop's two log lines of an outage (the runbook quotes them): its start, its end.
OUTAGE_STARTED = (
    "Redis is unreachable (%s); the periodic jobs wait for it, retrying at least every %.0f s"
)
OUTAGE_ENDED = (
    "Redis is back (unreachable for %.0f s%s); recovery of pending work is queued "
    "and the periodic jobs resume"
)


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


class SchedulerHealth:
    """What the scheduling loop is doing, and since when; optionally kept in a file.

    ``state`` is one of :attr:`STATES`: ``starting``, ``running``,
    ``redis_unreachable`` (waiting for Redis, still alive), ``restarting`` (the
    loop failed and is started again) or ``stopped``.  With a ``path``, every
    turn of the loop rewrites a small JSON file there (state, since when,
    restarts, pid), so a probe can tell a live loop (a fresh file) from a dead
    or hung one (a stale file) without asking Redis, which may be the part that
    is down.
    """

    STATES = ("starting", "running", "redis_unreachable", "restarting", "stopped")

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.state = "starting"
        self.since = time.time()
        self.restarts = 0
        self._write_failed = False

    def report(self, state: str) -> None:
        if state != self.state:
            self.state, self.since = state, time.time()
        if self.path is None:
            return
        document = {
            "state": self.state,
            "since": self.since,
            "beat_at": time.time(),
            "restarts": self.restarts,
            "pid": os.getpid(),
        }
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            partial.write_text(json.dumps(document))
            partial.replace(self.path)  # atomic: a probe never reads half a file
        except OSError as error:
            # The file is for probes: failing to write it must not stop the
            # scheduling (a probe then sees a stale file and says so).
            if not self._write_failed:
                log.error("cannot write the health file %s: %s", self.path, error)
            self._write_failed = True
        else:
            self._write_failed = False


def run_scheduler(
    settings: Settings, connection: Redis, stop: threading.Event, health: SchedulerHealth
) -> None:
    """Enqueue the periodic jobs until ``stop``, whatever happens to Redis or to the loop.

    :func:`run_cron_loop` rides out Redis outages itself; anything else that
    ends it is logged, counted in ``health`` and answered by a fresh loop
    (:func:`~reference_app.jobs.supervision.keep_running`).  Neither ``obsyk
    scheduler`` nor the thread of ``obsyk worker --with-scheduler`` therefore
    ends before it is asked to.
    """

    def restarting() -> None:
        health.restarts += 1
        health.report("restarting")

    try:
        keep_running(
            "the periodic scheduler",
            lambda: run_cron_loop(settings, connection, stop, health),
            stop,
            on_restart=restarting,
        )
    finally:
        health.report("stopped")


def run_cron_loop(
    settings: Settings, connection: Redis, stop: threading.Event, health: SchedulerHealth
) -> None:
    """rq's scheduling loop, without its signal handlers (it may run on a thread), outage-proof.

    While Redis is unreachable the loop retries with a capped backoff, logging
    the outage once when it starts and once when it ends.  When Redis is back,
    or turns out to have restarted between two turns (its ``run_id`` changed),
    the loop queues ``recover_pending`` at once: jobs the API could not queue
    during the outage, and those a restarted Redis lost, must not wait for the
    next recovery interval.
    """
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from obsyk_operator.backoff import Backoff
    from reference_app.jobs.queue import RqJobQueue

    scheduler = build_cron_scheduler(settings, connection)
    jobs = RqJobQueue(connection, settings.queue_name)
    backoff = Backoff(initial=0.5, maximum=RETRY_MAX_SECONDS)
    redis_run_id: str | None = None  # None until Redis first answered
    outage_since: float | None = None
    try:
        while not stop.is_set():
            try:
                run_id = _run_id(connection)
                if redis_run_id is None:
                    scheduler.register_birth()  # the first turn queues every job anyway
                elif outage_since is not None or run_id != redis_run_id:
                    jobs.enqueue(tasks.recover_pending, job_id=RECOVER_AFTER_OUTAGE_JOB_ID)
                    log.warning(
                        OUTAGE_ENDED,
                        0 if outage_since is None else time.monotonic() - outage_since,
                        ", restarted" if run_id != redis_run_id else "",
                    )
                redis_run_id, outage_since = run_id, None
                backoff.reset()
                if scheduler.enqueue_jobs():
                    scheduler.save()
                scheduler.heartbeat()
                health.report("running")
                wait = min(max(scheduler.calculate_sleep_interval(), 1.0), BEAT_SECONDS)
            except (RedisConnectionError, RedisTimeoutError) as error:
                if outage_since is None:
                    outage_since = time.monotonic()
                    log.error(OUTAGE_STARTED, error, RETRY_MAX_SECONDS)
                health.report("redis_unreachable")
                wait = backoff.next_delay()
            stop.wait(wait)
    finally:
        if redis_run_id is not None:
            with contextlib.suppress(RedisConnectionError, RedisTimeoutError):
                scheduler.register_death()


def _run_id(connection: Redis) -> str:
    """The Redis server's ``run_id`` (new at each start); ``""`` where INFO is not allowed.

    Hardened or hosted servers may disable INFO: restarts are then noticed
    only when the loop sees the outage itself.
    """
    from redis.exceptions import ResponseError

    try:
        return str(connection.info("server").get("run_id", ""))
    except ResponseError:
        return ""


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
