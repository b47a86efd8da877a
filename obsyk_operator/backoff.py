"""Exponential backoff with jitter, shared by every retry loop."""

from __future__ import annotations

import random


class Backoff:
    """``initial * 2**n`` seconds, capped at ``maximum``, each delay jittered by ±``jitter``.

    Jitter spreads the reconnects of many operators after a platform outage.
    """

    def __init__(self, *, initial: float = 1.0, maximum: float = 30.0, jitter: float = 0.2) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.failures = 0

    def next_delay(self) -> float:
        base = min(self.maximum, self.initial * 2**self.failures)
        self.failures += 1
        delay: float = base * random.uniform(1 - self.jitter, 1 + self.jitter)
        return min(self.maximum, delay)

    def reset(self) -> None:
        self.failures = 0
