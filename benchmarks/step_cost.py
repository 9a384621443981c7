"""What an env step's own code costs, with the physics taken out: ``python -m benchmarks.step_cost``.

The env speed benchmark measures time beyond physics *with* the physics running in between, which
is what users get, but on this machine Python interleaved with a simulator costs 2-3x what the same
code costs alone (caches), and the figure is the difference of two noisy times. This companion
measures the code alone: every registered task x backend and Gymnasium's Reacher-v5 stepped with
the physics calls replaced by no-ops (MuJoCo's ``mj_step`` and, for Reacher, its
``mj_rnePostConstraint``; PyBullet's ``stepSimulation`` and its motor commands, which the env
speed benchmark's raw loop also replays as physics). State, reward, the controller, validation
and state reads all still run, on a world that stands still. Rows take turns in short blocks and
report the 10th percentile of block time per step, as the env speed benchmark does.
Writes ``step_cost.json`` and ``step_cost.md`` to ``benchmarks/results/`` (or ``--out``).
"""

import argparse
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import pybullet

import envs
from benchmarks.cases import BACKENDS, REACHER, SEED, ActionTape, declared_backends, short
from benchmarks.env_speed import DEFAULT_OUT, machine_info
from benchmarks.raw import MOTOR_CALLS
from benchmarks.report import fmt_stats, write_results
from benchmarks.timing import BLOCK_S, QUANTILE, Case, EnvLoop, measure, prepare, stats

SECONDS, REPEATS = 0.3, 7
PHYSICS = ((mujoco, "mj_step"), (mujoco, "mj_rnePostConstraint"), (pybullet, "stepSimulation"),
           *((pybullet, name) for name in MOTOR_CALLS))


@contextmanager
def physics_off() -> Iterator[None]:
    """Replace the physics calls with no-ops (restored on exit)."""
    originals = [(module, name, getattr(module, name)) for module, name in PHYSICS]
    try:
        for module, name, _ in originals:
            setattr(module, name, _no_op)
        yield
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)


def _no_op(*args: Any, **kwargs: Any) -> None:
    return None


def run(ids: list[str], seconds: float = SECONDS, repeats: int = REPEATS,
        steps: int | None = None) -> dict[str, Any]:
    """Reacher-v5, then every id x declared backend, physics off, taking turns in blocks.

    Per row: the median over repeats of the p10 block time per step (resets excluded), and of its
    ratio to Reacher-v5's in the same repeat.
    """
    keys = [(REACHER, "mujoco")] + [(i, b) for i in ids for b in declared_backends(i, BACKENDS)]
    with ExitStack() as stack, physics_off():
        cases = []
        for env_id, backend in keys:
            kwargs = {} if env_id == REACHER else {"backend": backend, "obs_mode": "state"}
            env = gym.make(env_id, **kwargs)
            stack.callback(env.close)
            tape = ActionTape(env.action_space, SEED)
            case = Case("step_cost", f"{short(env_id)}/{backend}", f"{env_id} step, physics off",
                        env_id, backend, None, EnvLoop(env, tape.take, SEED))
            prepare(case, steps, seconds)
            cases.append(case)
        timings = measure(cases, repeats)
    reference = [t["step_us_q"] for t in timings[cases[0].key]]
    rows = []
    for case in cases:
        us = [t["step_us_q"] for t in timings[case.key]]
        row = {"task": short(case.env_id), "backend": case.backend, "steps": case.steps,
               "us_per_step": stats(us)}
        if case is not cases[0]:
            row["ratio_to_reacher"] = stats([u / r for u, r in zip(us, reference, strict=True)])
        rows.append(row)
    return companion_result("step_cost", rows, seconds=seconds, steps=steps, repeats=repeats,
                            physics_off=[n for _, n in PHYSICS])


def companion_result(benchmark: str, rows: list[dict[str, Any]], **config: Any) -> dict[str, Any]:
    """A companion benchmark's result: its name, when and where it ran, its settings and rows."""
    return {"benchmark": benchmark, "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "config": {**config, "seed": SEED, "block_s": BLOCK_S, "quantile": QUANTILE},
            "rows": rows}


def to_markdown(result: dict[str, Any]) -> str:
    """One table: µs per step with the physics off, and the ratio to Reacher-v5's."""
    c = result["config"]
    lines = [f"Step cost with the physics off, {result['timestamp']}: every row taking turns in "
             f"~{1e3 * c['block_s']:g} ms blocks of seeded random steps, {c['repeats']} repeats; "
             f"p{c['quantile']} of block time per step (resets excluded), median (min–max) over "
             "repeats.", "",
             f"| task | backend | µs/step, physics off (p{c['quantile']}) | / {REACHER} |",
             "|---|---|---:|---:|"]
    for row in result["rows"]:
        ratio = fmt_stats(row["ratio_to_reacher"], ".2f") if "ratio_to_reacher" in row else "reference"
        cost = fmt_stats(row["us_per_step"], ".1f")
        lines.append(f"| {row['task']} | {row['backend']} | {cost} | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write ``step_cost.json`` and ``step_cost.md``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.step_cost", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=SECONDS, help="per row and repeat")
    p.add_argument("--steps", type=int, help="fixed steps per row and repeat instead")
    p.add_argument("--repeats", type=int, default=REPEATS)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    result = run(envs.registered_ids(), args.seconds, args.repeats, args.steps)
    markdown = to_markdown(result)
    write_results(result, markdown, args.out, "step_cost")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
