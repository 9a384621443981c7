"""``python -m benchmarks``: how fast roboloop's envs step beyond the physics they run.

Builds the rows (``benchmarks/rows.py``), times them in interleaved blocks
(``benchmarks/timing.py``) and writes ``env_speed.json``, ``env_speed.md`` and ``env_speed.png``
(``benchmarks/report.py``). See ``docs/benchmarks.md``.
"""

import argparse
import os
import platform
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

import envs
from benchmarks.memory import camera_env_memory
from benchmarks.report import derive, summarize, to_markdown, write
from benchmarks.rows import BACKENDS, SECTIONS, Plan, build, short
from benchmarks.steps import SEED
from benchmarks.timing import BLOCK_S, QUANTILE, measure

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
MEMORY_SIZES = (32, 96)  # image sizes of the camera-memory table
FULL = {"seconds": 0.5, "repeats": 5, "warmup_s": 0.1, "tape_min": 300, "tape_max": 1000}
QUICK = {"seconds": 0.01, "repeats": 2, "warmup_s": 0.0, "tape_min": 30, "tape_max": 30}


def machine() -> dict[str, Any]:
    """Where and with what the benchmark ran."""
    cpu = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
           if line.startswith("model name")]
    return {"platform": platform.platform(), "cpu_model": cpu[0] if cpu else platform.processor(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "mujoco": mujoco.__version__, "pybullet": metadata.version("pybullet"),
            "gymnasium": gym.__version__, "numpy": np.__version__,
            "MUJOCO_GL": os.environ.get("MUJOCO_GL")}


def run(plan: Plan, quick: bool = False) -> dict[str, Any]:
    """Build, warm up and time everything in ``plan``; the result as one JSON-ready dict."""
    started, t0 = datetime.now(UTC), time.monotonic()
    info = {**machine(), "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    with ExitStack() as stack:
        groups, rows = build(stack, plan)
        timings = measure(groups, plan.repeats, plan.seconds)
    measurements = {c.key: {"label": c.label, "block_steps": c.block,
                            **summarize(timings[c.key], c.envs_per_step)} for g in groups for c in g}
    memory = ({f"{b}/{size}": camera_env_memory(b, size) for b in plan.backends for size in MEMORY_SIZES}
              if "camera" in plan.sections and not quick else {})
    info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    return {"benchmark": "env_speed", "timestamp": started.isoformat(timespec="seconds"),
            "wall_s": round(time.monotonic() - t0, 1), "machine": info,
            "config": {**plan.__dict__, "quick": quick, "block_s": BLOCK_S, "quantile": QUANTILE,
                       "seed": SEED},
            "rows": rows, "measurements": measurements, "figures": derive(measurements, rows),
            "camera_memory": memory}


def resolve_ids(names: list[str] | None, registered: list[str]) -> tuple[str, ...]:
    """Registered ids matching ``names`` (``roboloop/PushCube-v0``, ``PushCube-v0`` or ``PushCube``)."""
    if not names:
        return tuple(registered)
    out: list[str] = []
    for name in names:
        hits = [i for i in registered if name in (i, short(i), short(i).rsplit("-v", 1)[0])]
        if not hits:
            raise ValueError(f"unknown env id {name!r}; valid ids: {', '.join(registered)} (a full "
                             "id, or its name with or without the version)")
        out += [h for h in hits if h not in out]
    return tuple(out)


def parse_args(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The command line of ``python -m benchmarks``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=(
        "Env steps/s beside raw physics and Gymnasium's Reacher-v5, camera env vs raw renderer, "
        "2 vector-env workers vs 1; see docs/benchmarks.md"))
    p.add_argument("--ids", nargs="+", metavar="ID", help="state-table tasks (default: all registered)")
    p.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument("--seconds", type=float, help=f"per case and repeat (default {FULL['seconds']})")
    p.add_argument("--repeats", type=int, help=f"default {FULL['repeats']}")
    p.add_argument("--out", type=Path, help="default benchmarks/results (quick: benchmarks/results/quick)")
    p.add_argument("--quick", action="store_true", help="a few seconds: checks it works")
    return p, p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run, write the files, print the tables and the PASS/FAIL lines."""
    parser, args = parse_args(argv)
    try:
        ids = resolve_ids(args.ids, envs.registered_ids())
    except ValueError as e:
        parser.error(str(e))
    settings = {**(QUICK if args.quick else FULL)}
    settings.update({k: v for k in ("seconds", "repeats") if (v := getattr(args, k)) is not None})
    if settings["seconds"] <= 0 or settings["repeats"] < 1:
        parser.error(f"--seconds must be > 0 and --repeats >= 1, got {settings}")
    plan = Plan(ids=ids, backends=tuple(args.backends),
                sections=tuple(s for s in SECTIONS if s in args.sections), **settings)
    result = run(plan, args.quick)
    markdown = to_markdown(result)
    paths = write(result, markdown, args.out or (DEFAULT_OUT / "quick" if args.quick else DEFAULT_OUT))
    print(markdown)
    print(f"wrote {', '.join(map(str, paths))} in {result['wall_s']:.0f} s")
    return 0
