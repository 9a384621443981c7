"""A fixed-rate control loop that measures itself: period, jitter, missed deadlines, slow policies.

:class:`RateLoop` paces a loop at ``hz``: ``start()`` at the first tick, ``begin_step()`` when a
step's work arrives (it measures how long the caller took since ``end_step()``: the policy),
``tick()`` to wait for the end of the period, ``end_step()`` when the step hands back. A step
that arrives after its period has ended is a missed deadline: counted, reported and never made
up by a burst of fast steps (the schedule re-phases to now).
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np

from envs.errors import ConfigError


@dataclass
class TimingStats:
    """What a :class:`RateLoop` measured; ``summary()`` is JSON-ready (seconds)."""

    period_s: float
    periods: list[float] = field(default_factory=list)  # measured tick-to-tick intervals
    policy: list[float] = field(default_factory=list)  # time the caller took between steps (the policy)
    missed_deadlines: int = 0
    slow_policy_steps: int = 0  # steps whose caller alone took longer than a period

    def summary(self) -> dict[str, float | int]:
        """Percentiles of the period and jitter (|period - nominal|), and the counts."""
        periods = np.asarray(self.periods, float)
        jitter = np.abs(periods - self.period_s)
        out: dict[str, float | int] = {"period_s": self.period_s, "steps": len(self.policy),
                                       "missed_deadlines": self.missed_deadlines,
                                       "slow_policy_steps": self.slow_policy_steps}
        if periods.size:
            out.update(period_mean_s=float(periods.mean()), jitter_p50_s=float(np.percentile(jitter, 50)),
                       jitter_p95_s=float(np.percentile(jitter, 95)), jitter_max_s=float(jitter.max()))
        if self.policy:
            out.update(policy_p50_s=float(np.percentile(self.policy, 50)),
                       policy_max_s=float(np.max(self.policy)))
        return out


class RateLoop:
    """Paces steps at ``hz``; with ``realtime=False`` it only measures (simulation, tests)."""

    def __init__(self, hz: float, *, realtime: bool = True, tolerance_s: float = 0.002) -> None:
        if not (isinstance(hz, int | float) and math.isfinite(hz) and 0 < hz <= 10_000):
            raise ConfigError(f"control rate must be in (0, 10000] Hz, got {hz!r}")
        self.period_s, self.realtime, self.tolerance_s = 1.0 / hz, realtime, tolerance_s
        self.stats = TimingStats(self.period_s)
        self._deadline = self._last_tick = self._step_end = 0.0
        self.late = False  # the current step began after its deadline
        self.late_by = 0.0  # seconds past the deadline when it began

    def start(self) -> None:
        """The first tick (an episode starts): the next deadline is one period from now."""
        self._last_tick = self._step_end = time.monotonic()
        self._deadline = self._last_tick + self.period_s

    def begin_step(self) -> float:
        """A step's work arrived; returns how long the caller took since the last step (seconds)."""
        now = time.monotonic()
        took = now - self._step_end
        self.stats.policy.append(took)
        self.late = self.realtime and now > self._deadline + self.tolerance_s
        self.late_by = now - self._deadline if self.late else 0.0
        if self.realtime and took > self.period_s:
            self.stats.slow_policy_steps += 1
        return took

    def tick(self) -> float:
        """Wait for the end of the period (realtime); returns the measured period (seconds)."""
        now = time.monotonic()
        if self.realtime:
            if now > self._deadline + self.tolerance_s:
                self.stats.missed_deadlines += 1
                self._deadline = now  # re-phase: no burst of catch-up steps
            else:
                time.sleep(max(0.0, self._deadline - now))
                now = time.monotonic()
        period = now - self._last_tick
        self.stats.periods.append(period)
        self._last_tick = now
        self._deadline += self.period_s
        return period

    def end_step(self) -> None:
        """The step hands back to the caller (the policy's time starts)."""
        self._step_end = time.monotonic()
