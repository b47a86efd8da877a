"""Where background work goes: an RQ queue, or a thread of this process.

With ``OBSYK_REDIS_URL`` set, jobs go to an RQ queue on that Redis (explicit
connection, no RQ globals) and ``obsyk worker`` runs them.  Without it (the
embedded default) they run on one background thread of the app process, in an
app context; no fork-based worker and no Redis server are involved.

Either way a job is a module-level function of :mod:`reference_app.jobs.tasks`
taking ids, safe to run twice; durability never depends on the queue, because
``recover_pending`` finds work a lost queue or a crashed worker left behind.
"""

from __future__ import annotations

import abc
import hashlib
import logging
import queue
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask
    from redis import Redis

    from reference_app.config import Settings

log = logging.getLogger(__name__)

Job = Callable[..., Any]
_UNSAFE_JOB_ID = re.compile(r"[^A-Za-z0-9_-]")


class JobQueue(abc.ABC):
    """Accepts jobs for later execution."""

    @abc.abstractmethod
    def enqueue(self, func: Job, *args: Any, job_id: str | None = None) -> str | None:
        """Queue ``func(*args)``; a ``job_id`` already waiting is not queued twice.

        Returns the job id, or ``None`` when the job was already waiting.
        """

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Stop accepting work and release resources."""


class RqJobQueue(JobQueue):
    """Jobs in an RQ queue; ``obsyk worker`` executes them."""

    def __init__(self, connection: Redis, queue_name: str) -> None:
        from rq import Queue

        self.connection = connection
        self.queue = Queue(queue_name, connection=connection)

    def enqueue(self, func: Job, *args: Any, job_id: str | None = None) -> str | None:
        from rq.job import Job as RqJob
        from rq.job import JobStatus

        if job_id is not None:
            job_id = rq_job_id(job_id)
            existing = RqJob.fetch_many([job_id], connection=self.connection)[0]
            if existing is not None and existing.get_status(refresh=False) in (
                JobStatus.QUEUED,
                JobStatus.DEFERRED,
                JobStatus.SCHEDULED,
            ):
                return None
        job = self.queue.enqueue(func, *args, job_id=job_id)
        return str(job.id)

    def close(self) -> None:
        self.connection.close()


def rq_job_id(job_id: str) -> str:
    """RQ accepts only ``[A-Za-z0-9_-]`` in ids; ours carry ``:`` and operator snapshot ids.

    A rewritten id keeps a readable prefix and gains a digest of the original,
    so two different ids never collide.
    """
    safe = _UNSAFE_JOB_ID.sub("_", job_id)
    if safe == job_id:
        return job_id
    return f"{safe[:80]}-{hashlib.sha256(job_id.encode()).hexdigest()[:16]}"


class ThreadJobQueue(JobQueue):
    """Runs jobs one at a time on a daemon thread, each in a fresh app context.

    One thread is enough for the embedded platform (SQLite serialises writers
    anyway) and keeps jobs from racing each other.
    """

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._queue: queue.Queue[tuple[str, Job, tuple[Any, ...]] | None] = queue.Queue()
        self._waiting: set[str] = set()
        self._unfinished = 0
        self._idle = threading.Condition()
        self._closed = False
        self._counter = 0
        self._thread = threading.Thread(target=self._run, name="obsyk-jobs", daemon=True)
        self._thread.start()

    def enqueue(self, func: Job, *args: Any, job_id: str | None = None) -> str | None:
        with self._idle:
            if self._closed:
                raise RuntimeError("the job queue is closed")
            if job_id is None:
                self._counter += 1
                job_id = f"{func.__name__}:{self._counter}"
            elif job_id in self._waiting:
                return None
            self._waiting.add(job_id)
            self._unfinished += 1
        self._queue.put((job_id, func, args))
        return job_id

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued job has run; False on timeout (tests and shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def close(self) -> None:
        with self._idle:
            if self._closed:
                return
            self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            job_id, func, args = item
            with self._idle:
                self._waiting.discard(job_id)
            try:
                with self._app.app_context():
                    func(*args)
            except Exception:
                # The durable state (staged chunks, history) is untouched by a failed
                # job, so the periodic recover_pending run will try it again.
                log.exception("job %s failed", job_id)
            finally:
                with self._idle:
                    self._unfinished -= 1
                    self._idle.notify_all()


def redis_connection(url: str) -> Redis:
    """A client for ``OBSYK_REDIS_URL`` with the cache's timeouts (``prefix`` is cache-only)."""
    from obsyk_plugins.redis_cache import redis_client

    client, _ = redis_client(url)
    return client


def make_job_queue(settings: Settings, app: Flask) -> JobQueue:
    """RQ when ``OBSYK_REDIS_URL`` is set, else the in-process thread."""
    if settings.redis_url:
        return RqJobQueue(redis_connection(settings.redis_url), settings.queue_name)
    return ThreadJobQueue(app)
