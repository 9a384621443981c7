"""Timing in short interleaved blocks, and the statistics reported over repeats.

On a shared VM the CPU's speed changes by up to 2x from one millisecond to the next (a neighbour on
the sibling hyperthread), so whole-second totals mostly measure the neighbours. The cases of one
*group* (a task's env, its raw loop and its reference) therefore take turns in blocks of about
``BLOCK_S``; each block's time per step is kept, and its ``QUANTILE``-th percentile over a repeat
is the case's uncontended time per step. Every repeat runs every group once, one after another.
"""

import gc
import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.steps import Stepper, clock

BLOCK_S = 0.003  # target duration of one block
QUANTILE = 10  # percentile of block times per step reported as the uncontended time per step
WARMUP_STEPS = 20  # at least, and at least ``warmup_s`` seconds, before anything is timed


@dataclass
class Case:
    """One measurement: ``step`` does what ``label`` says; ``key`` is ``<section>/<row>/<what>``."""

    key: str
    label: str
    step: Stepper
    envs_per_step: int = 1  # sub-envs one step advances (vector envs)
    block: int = 1  # steps per block, from the warm-up
    block_s: float = 0.0  # the block's expected duration, from the warm-up


def warm_up(case: Case, warmup_s: float, block_s: float | None = None) -> None:
    """Run ``case`` untimed (renderers, caches), then size its blocks to ``block_s`` (``BLOCK_S``)."""
    case.step.start()
    n, start = 0, clock()
    while n < WARMUP_STEPS or clock() - start < warmup_s:
        case.step()
        n += 1
    per_step = (clock() - start) / n
    case.block = max(1, round((block_s or BLOCK_S) / per_step))
    case.block_s = case.block * per_step


def run_block(step: Stepper, n: int) -> tuple[float, float, int]:
    """Time ``n`` steps: (elapsed seconds, seconds of resets or restores within, how many)."""
    excluded, resets = 0.0, 0
    start = clock()
    for _ in range(n):
        x = step()
        if x:
            excluded += x
            resets += 1
    return clock() - start, excluded, resets


def measure_group(cases: list[Case], seconds: float) -> dict[str, dict[str, Any]]:
    """One repeat of a group: every case starts, then they take turns, one block each.

    Each case runs about ``seconds``, and every case gets the same number of blocks; on a loaded
    machine the turns stop at twice the planned time. Returns per case the totals and the
    ``QUANTILE``-th percentile of its blocks' µs per step, resets excluded.
    """
    rounds = max(1, round(seconds / max(c.block_s for c in cases)))
    gc.collect()
    for case in cases:
        case.step.start()
    blocks: dict[str, list[tuple[float, float, int]]] = {c.key: [] for c in cases}
    deadline = clock() + 2 * seconds * len(cases)
    for _ in range(rounds):
        for case in cases:
            blocks[case.key].append(run_block(case.step, case.block))
        if clock() > deadline:
            break
    out = {}
    for case in cases:
        b = blocks[case.key]
        out[case.key] = {
            "steps": case.block * len(b), "elapsed_s": sum(e for e, _, _ in b),
            "excluded_s": sum(x for _, x, _ in b), "resets": sum(r for _, _, r in b),
            "step_us_p10": float(np.percentile([1e6 * (e - x) / case.block for e, x, _ in b], QUANTILE))}
    return out


def measure(groups: list[list[Case]], repeats: int, seconds: float) -> dict[str, list[dict]]:
    """Every group ``repeats`` times, groups one after another within a repeat; per case a list."""
    timings: dict[str, list[dict]] = {c.key: [] for g in groups for c in g}
    for _ in range(repeats):
        for group in groups:
            for key, t in measure_group(group, seconds).items():
                timings[key].append(t)
    return timings


def stats(values: list[float | None]) -> dict[str, Any]:
    """Median, min and max over repeats of the defined values, and every value (None: undefined)."""
    defined = [v for v in values if v is not None and math.isfinite(v)]
    if not defined:
        return {"median": None, "min": None, "max": None, "repeats": values}
    return {"median": statistics.median(defined), "min": min(defined), "max": max(defined),
            "repeats": values}


def median_ms(fn: Any, repeats: int) -> float:
    """Median wall time of ``fn()`` in milliseconds, after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)
