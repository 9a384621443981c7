"""Env speed: how much time roboloop's PushCube spends per step beyond the MuJoCo physics it runs.

Six measurements, interleaved in every repeat so that drifting machine load hits all of them alike:

1. ``roboloop/PushCube-v0`` (``gymnasium.make``, ``obs_mode="state"``) with random actions.
2. Raw physics on the same model: ``mujoco.mj_step(model, data, nstep=frame_skip)``, one call per
   env step, on a copy of the env's ``MjData`` taken after a seeded reset (controls stay at zero).
3. and 4. The same pair for Gymnasium's ``Reacher-v5`` (its own ``frame_skip``), the reference.
5. PushCube with ``obs_mode="rgb"`` (one 96x96 image per step).
6. A raw render loop on the same model: ``mj_step`` + ``Renderer.update_scene`` + ``render``.

Env loops count the seeded-per-repeat resets at episode ends inside the timed loop, as a user's
rollout would; their time is also recorded separately. Derived figures (overhead per step, ratios)
are computed per repeat from that repeat's measurements, then summarized as median (min, max).
See ``docs/benchmarks.md``.
"""

import argparse
import copy
import gc
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from dataset.atomic import atomic_write_text

PUSH_CUBE = "roboloop/PushCube-v0"
REACHER = "Reacher-v5"
OVERHEAD_GOAL = 0.75  # PushCube's per-step overhead / Reacher's, at most
CAMERA_GOAL = 0.8  # rgb env steps/s / raw render loop steps/s, at least
IMAGE_SIZE = 96
CAMERA = "top"
SEED = 0
DEFAULT_STEPS, DEFAULT_REPEATS = 20_000, 5
QUICK_STEPS, QUICK_REPEATS = 200, 2
CAMERA_STEPS_DIVISOR = 100  # a 96x96 frame costs ~35 ms here (OSMesa llvmpipe, shadow map)
WARMUP_STEPS = 200
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
RESETS_NOTE = (
    "env loops include reset() at episode ends (seeded once per repeat), timed inside the loop; "
    "reset time is also recorded separately and excluded in the *_excl_resets figures")

Timing = dict[str, float]


@dataclass
class Case:
    """One measurement: ``fn(n)`` times ``n`` env steps (or their physics) and returns timings."""

    key: str
    label: str
    env_id: str
    frame_skip: int
    steps: int
    fn: Callable[[int], Timing]


# ---------------------------------------------------------------------------------------------
# Timed loops: kept minimal, with attribute look-ups hoisted out of the loop.


def time_env(env: gym.Env, actions: np.ndarray, seed: int) -> Timing:
    """Step ``env`` through ``actions``, resetting at episode ends; the first reset is untimed."""
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


def time_physics(model: mujoco.MjModel, data: mujoco.MjData, frame_skip: int, n: int) -> Timing:
    """``n`` calls of ``mj_step(model, data, nstep=frame_skip)``."""
    mj_step, clock = mujoco.mj_step, time.perf_counter
    start = clock()
    for _ in range(n):
        mj_step(model, data, nstep=frame_skip)
    return {"elapsed_s": clock() - start}


def time_physics_render(model: mujoco.MjModel, data: mujoco.MjData, frame_skip: int, n: int,
                        renderer: mujoco.Renderer) -> Timing:
    """``n`` iterations of physics for one env step, then one image from camera ``CAMERA``."""
    mj_step, update, render, clock = (
        mujoco.mj_step, renderer.update_scene, renderer.render, time.perf_counter)
    start = clock()
    for _ in range(n):
        mj_step(model, data, nstep=frame_skip)
        update(data, camera=CAMERA)
        render()
    return {"elapsed_s": clock() - start}


# ---------------------------------------------------------------------------------------------
# Setup: envs, raw loops on the same models, and the interleaved measurement schedule.


def physics_of(env: gym.Env) -> tuple[mujoco.MjModel, mujoco.MjData, int]:
    """Model, data and frame skip of a roboloop env (via its scene) or a Gymnasium MuJoCo env."""
    owner = env.unwrapped
    owner = getattr(owner, "scene", owner)
    return owner.model, owner.data, int(owner.frame_skip)


def _env_cases(stack: ExitStack, prefix: str, env_id: str, steps: int, *,
               render: bool = False, **kwargs: Any) -> list[Case]:
    """The env measurement and its raw counterpart on the same model and frame skip."""
    env = gym.make(env_id, **kwargs)
    stack.callback(env.close)
    model, data, frame_skip = physics_of(env)
    env.reset(seed=SEED)
    snapshot = copy.copy(data)  # post-reset state; each raw repeat starts from a fresh copy of it
    actions = np.random.default_rng(SEED).uniform(
        -1.0, 1.0, (steps, *env.action_space.shape)).astype(np.float32)
    name = env_id.split("/")[-1]
    renderer = None
    raw_label = f"raw mj_step(nstep={frame_skip}), {name} model"
    if render:
        renderer = mujoco.Renderer(model, IMAGE_SIZE, IMAGE_SIZE)
        stack.callback(renderer.close)
        raw_label = f"raw mj_step(nstep={frame_skip}) + render {IMAGE_SIZE}x{IMAGE_SIZE}, {name} model"

    def env_fn(n: int) -> Timing:
        return time_env(env, actions[:n], SEED)

    def raw_fn(n: int) -> Timing:
        if renderer is None:
            return time_physics(model, copy.copy(snapshot), frame_skip, n)
        return time_physics_render(model, copy.copy(snapshot), frame_skip, n, renderer)

    return [Case(f"{prefix}_env", f"{name} env {kwargs}", env_id, frame_skip, steps, env_fn),
            Case(f"{prefix}_raw", raw_label, env_id, frame_skip, steps, raw_fn)]


def make_cases(stack: ExitStack, steps: int, camera_steps: int) -> list[Case]:
    """All six measurements, in the order each repeat runs them."""
    return [
        *_env_cases(stack, "pushcube", PUSH_CUBE, steps, obs_mode="state"),
        *_env_cases(stack, "reacher", REACHER, steps),
        *_env_cases(stack, "camera", PUSH_CUBE, camera_steps, render=True,
                    obs_mode="rgb", image_size=IMAGE_SIZE),
    ]


def measure(cases: list[Case], repeats: int) -> dict[str, list[Timing]]:
    """Warm every case up (untimed), then run all cases once per repeat, interleaved."""
    for case in cases:
        case.fn(min(WARMUP_STEPS, case.steps))
    timings: dict[str, list[Timing]] = {case.key: [] for case in cases}
    for _ in range(repeats):
        for case in cases:
            gc.collect()
            timings[case.key].append(case.fn(case.steps))
    return timings


# ---------------------------------------------------------------------------------------------
# Results: raw timings, summaries and the derived overhead figures.


def stats(values: list[float | None]) -> dict[str, Any]:
    """Median, min and max of the defined values, plus every value (``None`` where undefined)."""
    defined = [v for v in values if v is not None and math.isfinite(v)]
    if not defined:
        return {"median": None, "min": None, "max": None, "repeats": values}
    return {"median": statistics.median(defined), "min": min(defined), "max": max(defined),
            "repeats": values}


def _summarize(case: Case, timings: list[Timing]) -> dict[str, Any]:
    out: dict[str, Any] = {"label": case.label, "env_id": case.env_id,
                           "frame_skip": case.frame_skip, "steps": case.steps}
    for field in timings[0]:
        out[field] = [t[field] for t in timings]
    out["steps_per_s"] = stats([case.steps / t["elapsed_s"] for t in timings])
    return out


def _overhead_us(env: dict, raw: dict, exclude_resets: bool = False) -> list[float]:
    """Per repeat: 1e6/env_sps - 1e6/raw_sps, i.e. microseconds per env step beyond physics."""
    env_s = env["elapsed_s"]
    if exclude_resets:
        env_s = [e - r for e, r in zip(env_s, env["reset_s"], strict=True)]
    return [1e6 * e / env["steps"] - 1e6 * r / raw["steps"]
            for e, r in zip(env_s, raw["elapsed_s"], strict=True)]


def _ratios(num: list[float], den: list[float]) -> list[float | None]:
    return [a / b if b > 0 else None for a, b in zip(num, den, strict=True)]


def _time_ratio(env: dict, raw: dict) -> list[float | None]:
    """Per repeat: env step time / raw step time (= raw steps/s / env steps/s)."""
    return _ratios(raw["steps_per_s"]["repeats"], env["steps_per_s"]["repeats"])


def derive(m: dict[str, dict]) -> dict[str, Any]:
    """Overheads beyond physics, their PushCube/Reacher ratio, env/raw ratios, goal verdicts."""
    ours, theirs = (_overhead_us(m[f"{p}_env"], m[f"{p}_raw"]) for p in ("pushcube", "reacher"))
    ours_x, theirs_x = (_overhead_us(m[f"{p}_env"], m[f"{p}_raw"], exclude_resets=True)
                        for p in ("pushcube", "reacher"))
    d: dict[str, Any] = {
        "pushcube_overhead_us": stats(ours),
        "reacher_overhead_us": stats(theirs),
        "overhead_ratio": stats(_ratios(ours, theirs)),
        "pushcube_overhead_us_excl_resets": stats(ours_x),
        "reacher_overhead_us_excl_resets": stats(theirs_x),
        "overhead_ratio_excl_resets": stats(_ratios(ours_x, theirs_x)),
        "pushcube_env_over_raw": stats(_time_ratio(m["pushcube_env"], m["pushcube_raw"])),
        "reacher_env_over_raw": stats(_time_ratio(m["reacher_env"], m["reacher_raw"])),
        "camera_ratio": stats(_ratios(m["camera_env"]["steps_per_s"]["repeats"],
                                      m["camera_raw"]["steps_per_s"]["repeats"])),
    }
    d["goals"] = {
        "overhead_ratio": _verdict(d["overhead_ratio"]["median"], "<=", OVERHEAD_GOAL),
        "camera_ratio": _verdict(d["camera_ratio"]["median"], ">=", CAMERA_GOAL),
    }
    return d


def _verdict(value: float | None, op: str, goal: float) -> dict[str, Any]:
    ok = value is not None and (value <= goal if op == "<=" else value >= goal)
    return {"value": value, "goal": f"{op} {goal}", "pass": ok}


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


def machine_info() -> dict[str, Any]:
    """Where and with what the benchmark ran."""
    return {
        "platform": platform.platform(), "cpu_model": _cpu_model(), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "mujoco": mujoco.__version__,
        "gymnasium": gym.__version__, "numpy": np.__version__,
        "MUJOCO_GL": os.environ.get("MUJOCO_GL"),
    }


def run(steps: int = DEFAULT_STEPS, repeats: int = DEFAULT_REPEATS,
        camera_steps: int | None = None) -> dict[str, Any]:
    """Run every measurement ``repeats`` times; return raw timings, summaries and derived figures."""
    camera_steps = camera_steps or max(1, steps // CAMERA_STEPS_DIVISOR)
    started = datetime.now(UTC)
    load_before = _loadavg()
    with ExitStack() as stack:
        cases = make_cases(stack, steps, camera_steps)
        timings = measure(cases, repeats)
    measurements = {c.key: _summarize(c, timings[c.key]) for c in cases}
    return {
        "benchmark": "env_speed",
        "timestamp": started.isoformat(timespec="seconds"),
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 2),
        "machine": {**machine_info(), "loadavg_before": load_before,
                    "loadavg_after": _loadavg()},
        "config": {"steps": steps, "camera_steps": camera_steps, "repeats": repeats,
                   "warmup_steps": WARMUP_STEPS, "seed": SEED, "image_size": IMAGE_SIZE,
                   "order": [c.key for c in cases], "resets": RESETS_NOTE},
        "measurements": measurements,
        "derived": derive(measurements),
    }


# ---------------------------------------------------------------------------------------------
# Report: Markdown table, files, CLI.


def _fmt(s: dict[str, Any], spec: str, unit: str = "") -> str:
    """``median (min–max)`` of a stats dict."""
    if s["median"] is None:
        return "n/a"
    return f"{s['median']:{spec}}{unit} ({s['min']:{spec}}–{s['max']:{spec}})"


def _reset_share(m: dict) -> str:
    share = 100 * sum(m["reset_s"]) / sum(m["elapsed_s"])
    return f"{statistics.median(m['resets']):.0f} ({share:.1f}% of env time)"


def _env_rows(m: dict, d: dict) -> list[str]:
    p, r = m["pushcube_env"], m["reacher_env"]
    rows = [
        ("physics steps per env step (frame_skip)", str(p["frame_skip"]), str(r["frame_skip"])),
        ("env steps/s (`gymnasium.make`, resets included)",
         _fmt(p["steps_per_s"], ",.0f"), _fmt(r["steps_per_s"], ",.0f")),
        ("raw physics steps/s (`mj_step(nstep=frame_skip)`)",
         _fmt(m["pushcube_raw"]["steps_per_s"], ",.0f"), _fmt(m["reacher_raw"]["steps_per_s"], ",.0f")),
        ("env step time / raw physics time",
         _fmt(d["pushcube_env_over_raw"], ".2f", "x"), _fmt(d["reacher_env_over_raw"], ".2f", "x")),
        ("µs per env step beyond physics",
         _fmt(d["pushcube_overhead_us"], ".1f"), _fmt(d["reacher_overhead_us"], ".1f")),
        ("µs per env step beyond physics, resets excluded",
         _fmt(d["pushcube_overhead_us_excl_resets"], ".1f"),
         _fmt(d["reacher_overhead_us_excl_resets"], ".1f")),
        ("resets per run", _reset_share(p), _reset_share(r)),
    ]
    return [f"| {a} | {b} | {c} |" for a, b, c in rows]


def _goal_rows(m: dict, d: dict) -> list[str]:
    g = d["goals"]
    verdict = {True: "**PASS**", False: "**FAIL**"}
    rows = [
        ("overhead ratio PushCube / Reacher", _fmt(d["overhead_ratio"], ".2f"),
         g["overhead_ratio"]["goal"], verdict[g["overhead_ratio"]["pass"]]),
        ("overhead ratio, resets excluded", _fmt(d["overhead_ratio_excl_resets"], ".2f"), "", ""),
        (f"PushCube rgb {IMAGE_SIZE}x{IMAGE_SIZE} env steps/s", _fmt(m["camera_env"]["steps_per_s"], ",.0f"),
         "", ""),
        ("raw render loop steps/s (`mj_step` + `update_scene` + `render`)",
         _fmt(m["camera_raw"]["steps_per_s"], ",.0f"), "", ""),
        ("camera ratio env / raw render loop", _fmt(d["camera_ratio"], ".2f"),
         g["camera_ratio"]["goal"], verdict[g["camera_ratio"]["pass"]]),
    ]
    return [f"| {a} | {b} | {c} | {e} |" for a, b, c, e in rows]


def to_markdown(result: dict[str, Any]) -> str:
    """The result as Markdown: a header line, the per-env table and the goals table."""
    c, mach, m, d = result["config"], result["machine"], result["measurements"], result["derived"]
    head = (f"Env speed, {result['timestamp']}: {mach['cpu_model']} ({mach['cpu_count']} CPUs), "
            f"Python {mach['python']}, MuJoCo {mach['mujoco']}, Gymnasium {mach['gymnasium']}, "
            f"MUJOCO_GL={mach['MUJOCO_GL']}. {c['steps']:,} env steps per measurement "
            f"({c['camera_steps']:,} with camera) x {c['repeats']} interleaved repeats; "
            "median (min–max) over repeats. Env timings include resets at episode ends.")
    lines = [head, "", "| per env | PushCube-v0 | Reacher-v5 |", "|---|---:|---:|", *_env_rows(m, d),
             "", "| figure | median (min–max) | goal | result |", "|---|---:|---:|---|", *_goal_rows(m, d)]
    return "\n".join(lines) + "\n"


def write_results(result: dict[str, Any], markdown: str, out: Path) -> tuple[Path, Path]:
    """Write ``env_speed.json`` and ``env_speed.md`` into ``out``, each atomically."""
    json_path, md_path = out / "env_speed.json", out / "env_speed.md"
    atomic_write_text(json_path, json.dumps(result, indent=2, allow_nan=False) + "\n")
    atomic_write_text(md_path, markdown)
    return json_path, md_path


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of ``python -m benchmarks``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=(
        "Env steps/s of roboloop/PushCube-v0 and Gymnasium Reacher-v5 beside raw MuJoCo physics, "
        "and the per-step overhead beyond physics. See docs/benchmarks.md."))
    p.add_argument("--steps", type=_positive_int,
                   help=f"env steps per measurement (default {DEFAULT_STEPS}; {QUICK_STEPS} with --quick)")
    p.add_argument("--camera-steps", type=_positive_int,
                   help=f"steps per camera measurement (default steps/{CAMERA_STEPS_DIVISOR})")
    p.add_argument("--repeats", type=_positive_int,
                   help=f"interleaved repeats (default {DEFAULT_REPEATS}; {QUICK_REPEATS} with --quick)")
    p.add_argument("--out", type=Path,
                   help="results folder (default benchmarks/results; benchmarks/results/quick with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="tiny run to check that everything works; its figures mean nothing")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write the JSON and Markdown results, print the table and goal verdicts."""
    args = parse_args(argv)
    steps = args.steps or (QUICK_STEPS if args.quick else DEFAULT_STEPS)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else DEFAULT_REPEATS)
    out = args.out or (DEFAULT_OUT / "quick" if args.quick else DEFAULT_OUT)
    result = run(steps, repeats, args.camera_steps)
    result["config"]["quick"] = args.quick
    markdown = to_markdown(result)
    json_path, md_path = write_results(result, markdown, out)
    print(markdown)
    for name, g in result["derived"]["goals"].items():
        value = "n/a" if g["value"] is None else f"{g['value']:.2f}"
        print(f"{name}: {value} (goal {g['goal']}): {'PASS' if g['pass'] else 'FAIL'}")
    print(f"wrote {json_path} and {md_path}")
    return 0
