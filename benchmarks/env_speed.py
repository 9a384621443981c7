"""Env speed: what roboloop's envs cost per step beyond the physics (and rendering) they run.

Measurements, built in ``benchmarks/cases.py`` and interleaved in every repeat so that drifting
machine load hits all of them alike:

- **state**: for Gymnasium's ``Reacher-v5`` (the reference) and every registered roboloop id x
  backend, ``env.step`` with ``obs_mode="state"`` and seeded random actions, beside the raw physics
  of the same scene (``benchmarks/raw.py``). Figures: env / raw time, µs per step beyond physics,
  and that overhead divided by Reacher-v5's in the same repeat (goal: at most ``OVERHEAD_GOAL``).
- **camera**: PushCube with one 96x96 RGB camera per backend, beside raw physics + the scene's
  renderer (goal: at least ``CAMERA_GOAL`` of the raw loop's steps/s).
- **vector**: PushCube (MuJoCo, state) in an ``AsyncVectorEnv`` with 1 and 2 worker processes.

Env loops count the resets at episode ends inside the timed loop, as a user's rollout would, and
also record them separately. See ``docs/benchmarks.md``.
"""

import argparse
import os
import platform
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

import envs
from benchmarks.cases import BACKENDS, IMAGE_SIZE, SECTIONS, SEED, Plan, make_cases, short
from benchmarks.figures import derive, summarize
from benchmarks.report import goal_lines, to_markdown, write_results
from benchmarks.timing import BLOCK_S, PROBE_SHARE, QUANTILE, WARMUP_STEPS, measure

DEFAULT_SECONDS, DEFAULT_REPEATS = 1.0, 5
QUICK_STEPS = {"state": 200, "camera": 5, "vector": 50}
QUICK_REPEATS = 2
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
RESETS_NOTE = (
    "env loops include reset() at episode ends (seeded once per repeat), timed inside the loop; "
    "reset time is also recorded separately and excluded in the *_excl_resets figures. Vector "
    "envs reset inside their workers (autoreset), untimed separately")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """Where and with what the benchmark ran."""
    return {
        "platform": platform.platform(), "cpu_model": _cpu_model(), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "mujoco": mujoco.__version__,
        "pybullet": _version("pybullet"), "gymnasium": gym.__version__, "numpy": np.__version__,
        "MUJOCO_GL": os.environ.get("MUJOCO_GL"),
    }


def run(plan: Plan, repeats: int = DEFAULT_REPEATS) -> dict[str, Any]:
    """Measure everything in ``plan`` ``repeats`` times; return raw timings, summaries and figures."""
    started = datetime.now(UTC)
    load_before = _loadavg()
    with ExitStack() as stack:
        cases, rows = make_cases(stack, plan)
        timings = measure(cases, repeats)
    measurements = {c.key: {**summarize(c, timings[c.key]), "block_steps": c.block} for c in cases}
    return {
        "benchmark": "env_speed",
        "timestamp": started.isoformat(timespec="seconds"),
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 2),
        "machine": {**machine_info(), "loadavg_before": load_before, "loadavg_after": _loadavg()},
        "config": {"ids": list(plan.ids), "backends": list(plan.backends),
                   "sections": list(plan.sections), "steps": dict(plan.steps), "seconds": plan.seconds,
                   "repeats": repeats, "block_s": BLOCK_S, "quantile": QUANTILE,
                   "warmup_steps": WARMUP_STEPS, "probe_share": PROBE_SHARE,
                   "seed": SEED, "image_size": IMAGE_SIZE, "order": [c.key for c in cases],
                   "resets": RESETS_NOTE},
        "rows": rows,
        "errors": [r for r in rows if "error" in r],
        "measurements": measurements,
        "derived": derive(measurements, rows),
    }


# ---------------------------------------------------------------------------------------------
# CLI.


def resolve_ids(names: list[str] | None, registered: list[str]) -> tuple[str, ...]:
    """Registered ids matching ``names`` (full id, ``PushCube-v0`` or ``PushCube``); all if None."""
    if not names:
        return tuple(registered)
    out = []
    for name in names:
        hits = [i for i in registered if name in (i, short(i), short(i).rsplit("-v", 1)[0])]
        if not hits:
            raise ValueError(f"unknown env id {name!r}; registered roboloop ids: {', '.join(registered)} "
                             "(pass a full id, or its name with or without the version)")
        out += [h for h in hits if h not in out]
    return tuple(out)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of ``python -m benchmarks``."""
    q = QUICK_STEPS
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=(
        "Env steps/s of every roboloop task x backend beside its raw physics and Gymnasium's "
        "Reacher-v5, camera env vs raw renderer, and a 2-worker vector env vs 1. "
        "See docs/benchmarks.md."))
    p.add_argument("--ids", nargs="+", metavar="ID",
                   help="roboloop ids for the state table: full ids or names (PushCube, CartPole-v0); "
                        "default every registered id")
    p.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS),
                   help="backends for the state and camera tables (default both)")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                   help="which tables to measure (default all)")
    p.add_argument("--seconds", type=_positive_float, default=DEFAULT_SECONDS,
                   help=f"target duration of one measurement in one repeat; its step count is sized "
                        f"to this from a timed probe after warm-up (default {DEFAULT_SECONDS:g})")
    p.add_argument("--steps", type=_positive_int,
                   help=f"fixed env steps per state measurement instead ({q['state']} with --quick)")
    p.add_argument("--camera-steps", type=_positive_int,
                   help=f"fixed env steps per camera measurement instead ({q['camera']} with --quick)")
    p.add_argument("--vector-steps", type=_positive_int,
                   help=f"fixed vector steps per vector measurement instead ({q['vector']} with --quick)")
    p.add_argument("--repeats", type=_positive_int,
                   help=f"interleaved repeats (default {DEFAULT_REPEATS}; {QUICK_REPEATS} with --quick)")
    p.add_argument("--out", type=Path,
                   help="results folder (default benchmarks/results; benchmarks/results/quick with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="tiny fixed step counts to check that everything works; its figures mean nothing")
    return p.parse_args(argv)


def plan_from_args(args: argparse.Namespace) -> Plan:
    """The measurement plan the options describe (fails with the valid ids on an unknown one)."""
    given = {"state": args.steps, "camera": args.camera_steps, "vector": args.vector_steps}
    steps = {s: n or (QUICK_STEPS[s] if args.quick else None) for s, n in given.items()}
    return Plan(ids=resolve_ids(args.ids, envs.registered_ids()), backends=tuple(args.backends),
                sections=tuple(s for s in SECTIONS if s in args.sections), seconds=args.seconds,
                steps=steps)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write the JSON and Markdown results, print the tables and goal verdicts."""
    args = parse_args(argv)
    try:
        plan = plan_from_args(args)
    except ValueError as e:
        print(f"python -m benchmarks: error: {e}", file=sys.stderr)
        return 2
    repeats = args.repeats or (QUICK_REPEATS if args.quick else DEFAULT_REPEATS)
    out = args.out or (DEFAULT_OUT / "quick" if args.quick else DEFAULT_OUT)
    result = run(plan, repeats)
    result["config"]["quick"] = args.quick
    markdown = to_markdown(result)
    json_path, md_path = write_results(result, markdown, out)
    print(markdown)
    for line in goal_lines(result):
        print(line)
    print(f"wrote {json_path} and {md_path}")
    return 0
