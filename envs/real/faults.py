"""Injected network faults for the robot server: latency, jitter and dropped messages, seeded."""

import math
import random
import time
from collections import Counter
from dataclasses import dataclass

from envs.errors import ConfigError


@dataclass(frozen=True)
class Faults:
    """What the server does to each message; all zero means a clean link."""

    latency_s: float = 0.0  # added to every request before it is handled (seconds)
    jitter_s: float = 0.0  # plus a uniform draw in [0, jitter_s]
    drop_rate: float = 0.0  # probability that a request, and separately its reply, is lost
    seed: int = 0  # the draws are reproducible

    def __post_init__(self) -> None:
        for name in ("latency_s", "jitter_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 5):
                raise ConfigError(f"faults.{name} must be in [0, 5] seconds, got {value!r}")
        if not (isinstance(self.drop_rate, int | float) and 0 <= self.drop_rate < 1):
            raise ConfigError(f"faults.drop_rate must be in [0, 1), got {self.drop_rate!r}")

    @property
    def active(self) -> bool:
        """True if any fault is injected."""
        return bool(self.latency_s or self.jitter_s or self.drop_rate)


class FaultInjector:
    """Draws delays and drops from a generator seeded with ``faults.seed``; counts what it did."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(faults.seed)

    def delay(self) -> None:
        """Sleep the latency plus jitter."""
        seconds = self.faults.latency_s + self._rng.uniform(0.0, self.faults.jitter_s)
        if seconds > 0:
            time.sleep(seconds)

    def drop(self, what: str) -> bool:
        """True if this message (``"request"`` or ``"reply"``) is lost."""
        lost = self.faults.drop_rate > 0 and self._rng.random() < self.faults.drop_rate
        if lost:
            self.counts[f"dropped_{what}"] += 1
        return lost
