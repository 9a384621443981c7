"""Timed loops in short interleaved blocks, step-count sizing, and the measurement schedule.

A *case* is one measurement: a :class:`Loop` that walks one seeded trajectory (``start()`` puts it
at the beginning, untimed; ``run(n)`` times the next ``n`` steps along it). Every repeat starts
every case, then runs them all in turns of one short *block* each (about ``BLOCK_S``) until each has
done its steps, so that every case sees the same machine at the same millisecond scale.

Why blocks: on a shared VM the CPU's speed changes by up to 2x from one millisecond to the next
(another tenant on the sibling hyperthread). Whole-second totals then mostly measure the
neighbours. Each block's time per step is recorded, and its ``QUANTILE``-th percentile over a
repeat is the case's *uncontended* time per step, beside the plain total (see docs/benchmarks.md).
"""

import gc
import math
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

Timing = dict[str, Any]

WARMUP_STEPS = 200  # untimed steps before anything is timed (renderers, GL contexts, caches)
PROBE_STEPS = 20  # first calibration probe; doubled until it lasts PROBE_SHARE of the target
PROBE_SHARE = 0.1
BLOCK_S = 0.003  # target duration of one block
QUANTILE = 10  # percentile of block times per step taken as the uncontended time per step


class Loop(Protocol):
    """One seeded trajectory of steps: env steps, or one env step's worth of raw physics."""

    def start(self) -> None:
        """Go (untimed) to the trajectory's start: seeded reset, or restored initial state."""

    def run(self, n: int) -> Timing:
        """Time the next ``n`` steps: ``{"elapsed_s", "reset_s", "resets"}``.

        Episode resets (or state restores at the env's episode boundaries) are timed inside
        ``elapsed_s`` and also on their own.
        """


@dataclass
class Case:
    """One measurement: ``loop`` steps ``label``; ``key`` is ``<section>/<task>/<backend>/<what>``.

    ``envs_per_step`` is the number of sub-envs one step advances (vector envs), so that
    ``transitions = steps * envs_per_step``.
    """

    section: str  # "state", "camera" or "vector"
    key: str
    label: str
    env_id: str
    backend: str
    frame_skip: int | None  # physics steps per env step; None where not known (vector envs)
    loop: Loop
    steps: int = 0  # per repeat, set by :func:`prepare`
    block: int = 0  # steps per block, set by :func:`prepare`
    envs_per_step: int = 1
    group: int = 0  # cases of one group take turns with each other; groups run one after another


# ---------------------------------------------------------------------------------------------
# Timed loops shared by the env and vector cases.


class EnvLoop:
    """``env.step`` through a seeded action tape, resetting (timed) at episode ends."""

    def __init__(self, env: Any, actions: Any, seed: int) -> None:
        self.env, self.actions, self.seed, self.i = env, actions, seed, 0

    def start(self) -> None:
        self.env.reset(seed=self.seed)
        self.i = 0

    def run(self, n: int) -> Timing:
        step, reset, clock = self.env.step, self.env.reset, time.perf_counter
        actions = self.actions(self.i + n)[self.i:]
        resets, reset_s = 0, 0.0
        start = clock()
        for action in actions:
            _, _, terminated, truncated, _ = step(action)
            if terminated or truncated:
                t = clock()
                reset()
                reset_s += clock() - t
                resets += 1
        elapsed = clock() - start
        self.i += n
        return {"elapsed_s": elapsed, "reset_s": reset_s, "resets": resets}


class VectorLoop:
    """A vector env stepped through batched seeded actions; sub-envs autoreset in their workers."""

    def __init__(self, vec: Any, actions: Any, seed: int) -> None:
        self.vec, self.actions, self.seed, self.i = vec, actions, seed, 0

    def start(self) -> None:
        self.vec.reset(seed=self.seed)
        self.i = 0

    def run(self, n: int) -> Timing:
        step, clock = self.vec.step, time.perf_counter
        actions = self.actions(self.i + n)[self.i:]
        start = clock()
        for action in actions:
            step(action)
        elapsed = clock() - start
        self.i += n
        return {"elapsed_s": elapsed, "reset_s": 0.0, "resets": 0}


# ---------------------------------------------------------------------------------------------
# Step counts and the schedule.


def calibrate(loop: Loop, seconds: float) -> int:
    """Steps for one repeat of ``loop`` to last about ``seconds``, from timed probes (after warm-up)."""
    n = PROBE_STEPS
    while True:
        loop.start()
        elapsed = loop.run(n)["elapsed_s"]
        if elapsed >= PROBE_SHARE * seconds or n >= 1 << 24:
            return max(1, math.ceil(seconds * n / max(elapsed, 1e-9)))
        n *= 2


def prepare(case: Case, steps: int | None, seconds: float) -> None:
    """Warm ``case`` up (untimed), fix its steps (``steps`` or sized to ``seconds``) and block size."""
    warmup = WARMUP_STEPS if steps is None else min(WARMUP_STEPS, steps)
    case.loop.start()
    per_step = case.loop.run(warmup)["elapsed_s"] / warmup
    case.steps = steps if steps is not None else calibrate(case.loop, seconds)
    case.block = max(1, min(case.steps, round(BLOCK_S / max(per_step, 1e-9))))
    if case.section == "vector":  # workers left idle between short blocks pay to wake up: one block
        case.block = case.steps


def measure(cases: list[Case], repeats: int) -> dict[str, list[Timing]]:
    """Run every (prepared) case ``repeats`` times; within a group, cases take turns block by block.

    Each repeat runs the groups one after another, so a case shares the CPU's caches only with
    its own group (e.g. a task's env, its raw loop and the Reacher-v5 pair it is compared with),
    as one env in a user's process does. Each repeat's timing per case: totals (``elapsed_s``,
    ``reset_s``, ``resets``), the number of blocks, and ``step_us_q``: the ``QUANTILE``-th
    percentile over its full blocks of microseconds per step with resets (or state restores)
    excluded, and ``step_us_median`` likewise.
    """
    timings: dict[str, list[Timing]] = {case.key: [] for case in cases}
    groups: dict[int, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.group, []).append(case)
    for _ in range(repeats):
        for group in groups.values():
            _measure_group(group, timings)
    return timings


def _measure_group(cases: list[Case], timings: dict[str, list[Timing]]) -> None:
    """One repeat of one group: start every case, then turns of one block each until all are done."""
    gc.collect()
    for case in cases:
        case.loop.start()
    done = {case.key: 0 for case in cases}
    totals = {case.key: {"elapsed_s": 0.0, "reset_s": 0.0, "resets": 0} for case in cases}
    blocks: dict[str, list[float]] = {case.key: [] for case in cases}
    pending = list(cases)
    while pending:
        for case in pending:
            n = min(case.block, case.steps - done[case.key])
            t = case.loop.run(n)
            for name in totals[case.key]:
                totals[case.key][name] += t[name]
            if n == case.block:
                blocks[case.key].append(1e6 * (t["elapsed_s"] - t["reset_s"]) / n)
            done[case.key] += n
        pending = [c for c in pending if done[c.key] < c.steps]
    for case in cases:
        b = blocks[case.key]
        timings[case.key].append({**totals[case.key], "blocks": len(b),
                                  "step_us_q": percentile(b, QUANTILE),
                                  "step_us_median": percentile(b, 50)})


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation), None for no values."""
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def stats(values: list[float | None]) -> dict[str, Any]:
    """Median, min and max of the defined values, plus every value (``None`` where undefined)."""
    defined = [v for v in values if v is not None and math.isfinite(v)]
    if not defined:
        return {"median": None, "min": None, "max": None, "repeats": values}
    return {"median": statistics.median(defined), "min": min(defined), "max": max(defined),
            "repeats": values}
