"""Timed loops, step-count calibration and the interleaved measurement schedule.

The loops are kept minimal, with attribute look-ups hoisted out of them, so that what they time is
the work named in their docstring. A *case* is one measurement: ``fn(n)`` times ``n`` steps (env
steps, or one env step's worth of raw physics/rendering) and returns a :data:`Timing`.
"""

import gc
import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Timing = dict[str, float]

WARMUP_STEPS = 200  # untimed steps before anything is timed (renderers, GL contexts, caches)
PROBE_STEPS = 20  # first calibration probe; doubled until it lasts PROBE_SHARE of the target
PROBE_SHARE = 0.1


@dataclass
class Case:
    """One measurement: ``fn(n)`` times ``n`` steps of ``label`` and returns elapsed seconds etc.

    ``key`` is ``<section>/<task>/<backend>/<what>``. ``envs_per_step`` is the number of sub-envs
    one step advances (vector envs), so that ``transitions = steps * envs_per_step``.
    """

    section: str  # "state", "camera" or "vector"
    key: str
    label: str
    env_id: str
    backend: str
    frame_skip: int | None  # physics steps per env step; None where not known (vector envs)
    fn: Callable[[int], Timing]
    steps: int = 0  # set by :func:`prepare`
    envs_per_step: int = 1


# ---------------------------------------------------------------------------------------------
# Timed loops.


def time_env(env: Any, actions: Iterable[Any], seed: int) -> Timing:
    """Step ``env`` through ``actions``, resetting at episode ends; the first, seeded reset is untimed."""
    step, reset, clock = env.step, env.reset, time.perf_counter
    reset(seed=seed)
    resets, reset_s = 0, 0.0
    start = clock()
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
        if terminated or truncated:
            t = clock()
            reset()
            reset_s += clock() - t
            resets += 1
    return {"elapsed_s": clock() - start, "reset_s": reset_s, "resets": resets}


def time_vector(vec: Any, actions: Iterable[Any], seed: int) -> Timing:
    """Step a vector env through batched ``actions``; sub-envs autoreset inside their workers."""
    step, clock = vec.step, time.perf_counter
    vec.reset(seed=seed)
    start = clock()
    for action in actions:
        step(action)
    return {"elapsed_s": clock() - start}


# ---------------------------------------------------------------------------------------------
# Step counts and the schedule.


def calibrate(fn: Callable[[int], Timing], seconds: float) -> int:
    """Steps for one run of ``fn`` to last about ``seconds``, from a timed probe (after warm-up)."""
    n = PROBE_STEPS
    while True:
        elapsed = fn(n)["elapsed_s"]
        if elapsed >= PROBE_SHARE * seconds or n >= 1 << 24:
            return max(1, math.ceil(seconds * n / max(elapsed, 1e-9)))
        n *= 2


def prepare(case: Case, steps: int | None, seconds: float) -> None:
    """Warm ``case`` up (untimed) and fix its step count: ``steps``, or calibrated to ``seconds``."""
    case.fn(WARMUP_STEPS if steps is None else min(WARMUP_STEPS, steps))
    case.steps = steps if steps is not None else calibrate(case.fn, seconds)


def measure(cases: list[Case], repeats: int) -> dict[str, list[Timing]]:
    """Run every (prepared) case once per repeat, interleaved, so load drift hits all alike."""
    timings: dict[str, list[Timing]] = {case.key: [] for case in cases}
    for _ in range(repeats):
        for case in cases:
            gc.collect()
            timings[case.key].append(case.fn(case.steps))
    return timings


def stats(values: list[float | None]) -> dict[str, Any]:
    """Median, min and max of the defined values, plus every value (``None`` where undefined)."""
    defined = [v for v in values if v is not None and math.isfinite(v)]
    if not defined:
        return {"median": None, "min": None, "max": None, "repeats": values}
    return {"median": statistics.median(defined), "min": min(defined), "max": max(defined),
            "repeats": values}
