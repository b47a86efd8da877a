"""Keeping a long-running loop alive: started again whenever it ends before it is asked to.

``obsyk worker`` and ``obsyk scheduler`` (and the scheduler thread of ``obsyk
worker --with-scheduler``) run loops that talk to Redis.  Each rides out a
Redis outage itself where it can; :func:`keep_running` covers the rest (a
failure at a moment the loop did not expect, a bug), so no process or thread
quietly stops doing its work while it still looks alive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from obsyk_operator.backoff import Backoff

log = logging.getLogger(__name__)

#: Longest wait before a loop is started again (and between two attempts to reach
#: Redis): how late, at most, background work resumes after Redis is back.
RETRY_MAX_SECONDS = 5.0
#: A loop that ran this long before it ended had recovered: its next failure is news.
HEALTHY_RUN_SECONDS = 10.0


def keep_running(
    name: str,
    run: Callable[[], None],
    stop: threading.Event,
    *,
    on_restart: Callable[[], None] | None = None,
    expected: tuple[type[Exception], ...] = (),
) -> None:
    """Call ``run`` until ``stop`` is set, starting it again after a capped backoff.

    ``run`` is expected to return only once ``stop`` is set; if it returns or
    raises before that, the failure is logged, ``on_restart`` is called, and
    ``run`` is called again.  An ``expected`` failure (Redis unreachable) is
    logged in one line, once until a run lasts again; anything else with its
    traceback, every time.
    """
    backoff = Backoff(initial=1.0, maximum=RETRY_MAX_SECONDS)
    quiet = False
    while not stop.is_set():
        started = time.monotonic()
        try:
            run()
        except expected as error:
            if stop.is_set():
                return
            if not quiet or time.monotonic() - started > HEALTHY_RUN_SECONDS:
                log.error("%s stopped (%s); starting it again until it holds", name, error)
            quiet = True
        except Exception:
            if stop.is_set():
                return
            log.exception("%s failed; starting it again", name)
        else:
            if stop.is_set():
                return
            log.error("%s stopped on its own; starting it again", name)
        if time.monotonic() - started > HEALTHY_RUN_SECONDS:
            backoff.reset()
        if on_restart is not None:
            on_restart()
        stop.wait(backoff.next_delay())
