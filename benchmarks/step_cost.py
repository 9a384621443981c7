"""What an env step's own code costs, with the physics taken out: ``python -m benchmarks.step_cost``.

The env speed benchmark measures time beyond physics *with* the physics running in between, which
is what users get, but on this machine Python interleaved with a simulator costs 2-3x what the same
code costs alone (caches), and the figure is the difference of two noisy times. This companion
measures the code alone: every registered task x backend and Gymnasium's Reacher-v5 stepped with
the physics calls replaced by no-ops (MuJoCo's ``mj_step`` and, for Reacher, its
``mj_rnePostConstraint``; PyBullet's ``stepSimulation``). State, reward, actuation, validation and
state reads all still run, on a world that stands still. Each measurement is the fastest of
``REPEATS`` runs of ``STEPS`` seeded random steps, resets excluded (timed and subtracted).
Writes ``step_cost.json`` and ``step_cost.md`` to ``benchmarks/results/`` (or ``--out``).
"""

import argparse
import json
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import pybullet

import envs
from benchmarks.cases import BACKENDS, REACHER, SEED, declared_backends, sample_actions, short
from benchmarks.env_speed import DEFAULT_OUT, machine_info
from benchmarks.timing import EnvLoop
from dataset.atomic import atomic_write_text

STEPS, REPEATS = 2000, 15
PHYSICS = ((mujoco, "mj_step"), (mujoco, "mj_rnePostConstraint"), (pybullet, "stepSimulation"))


@contextmanager
def physics_off():
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


def step_cost_us(env: gym.Env, steps: int = STEPS, repeats: int = REPEATS) -> float:
    """Fastest over ``repeats`` of µs per ``env.step`` (resets excluded), physics off."""
    actions = sample_actions(env.action_space, steps, SEED)
    loop, best = EnvLoop(env, lambda n: actions[:n], SEED), float("inf")
    with physics_off():
        for _ in range(repeats):
            loop.start()
            t = loop.run(steps)
            best = min(best, t["elapsed_s"] - t["reset_s"])
    return 1e6 * best / steps


def run(ids: list[str], steps: int = STEPS, repeats: int = REPEATS) -> dict[str, Any]:
    """Reacher-v5, then every id x declared backend; µs per step and the ratio to Reacher's."""
    rows = []
    for env_id in [REACHER, *ids]:
        backends = ["mujoco"] if env_id == REACHER else declared_backends(env_id, BACKENDS)
        for backend in backends:
            kwargs = {} if env_id == REACHER else {"backend": backend, "obs_mode": "state"}
            env = gym.make(env_id, **kwargs)
            try:
                rows.append({"task": short(env_id), "backend": backend,
                             "us_per_step": step_cost_us(env, steps, repeats)})
            finally:
                env.close()
    reference = rows[0]["us_per_step"]
    for row in rows[1:]:
        row["ratio_to_reacher"] = row["us_per_step"] / reference
    return {"benchmark": "step_cost", "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(), "config": {"steps": steps, "repeats": repeats, "seed": SEED,
                                                  "physics_off": [n for _, n in PHYSICS]},
            "rows": rows}


def to_markdown(result: dict[str, Any]) -> str:
    """One table: µs per step with the physics off, and the ratio to Reacher-v5's."""
    c = result["config"]
    lines = [f"Step cost with the physics off, {result['timestamp']}: fastest of {c['repeats']} runs "
             f"of {c['steps']} seeded random steps, resets excluded.", "",
             f"| task | backend | µs/step, physics off | / {REACHER} |", "|---|---|---:|---:|"]
    for row in result["rows"]:
        ratio = f"{row['ratio_to_reacher']:.2f}" if "ratio_to_reacher" in row else "reference"
        lines.append(f"| {row['task']} | {row['backend']} | {row['us_per_step']:.1f} | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write ``step_cost.json`` and ``step_cost.md``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.step_cost", description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--repeats", type=int, default=REPEATS)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    result = run(envs.registered_ids(), args.steps, args.repeats)
    markdown = to_markdown(result)
    atomic_write_text(args.out / "step_cost.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(args.out / "step_cost.md", markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
