"""The simulator as the model: CEM over the env's own physics as an expert on every task.

    python scripts/experiments/simulator_planner.py                       # 6 tasks, MuJoCo, 10 episodes
    python scripts/experiments/simulator_planner.py --backends mujoco pybullet --episodes 5
    python scripts/experiments/simulator_planner.py --tasks roboloop/Reach-v0 --episodes 2   # a check
    python scripts/experiments/simulator_planner.py --method icem --tasks roboloop/PushCube-v0  # iCEM rows

Each step, ``world_models.mpc.SimulatorPlanner`` snapshots the env (``get_state``), plays every
sampled sequence in it, restores it and executes the plan's first action: the upper bound a
learned model can reach with the same planner and budget, and an expert for tasks without a
scripted one. Held-out evaluation seeds (100000+), Wilson 95% intervals, plans per second over
the whole evaluation. ``--method`` picks the planner (rows are kept per task, backend and method,
all at the same budget). Writes docs/results/simulator_planner.{json,md}.
"""

import argparse
import json
import time
from pathlib import Path

import torch

import envs
from dataset import atomic_write_text
from loop import evaluate
from loop.evaluation import evaluation_seeds
from world_models.mpc import SimulatorPlanner
from world_models.planners import PlannerConfig

OUT = Path(__file__).resolve().parents[2] / "docs" / "results"
PLANNER = {"method": "cem", "horizon": 15, "samples": 32, "iterations": 2, "elites": 4}


class Counted(SimulatorPlanner):
    """Counts plans, for plans per second."""

    plans = 0

    def act(self, features):
        """Plan and count."""
        self.plans += 1
        return super().act(features)


def run_task(env_id: str, backend: str, episodes: int, planner: dict) -> dict:
    """Evaluate the simulator planner on held-out seeds of one task and backend."""
    env = envs.make(env_id, backend=backend, obs_mode="state")
    agent = Counted(env, PlannerConfig(**planner))
    started = time.perf_counter()
    summary = evaluate(env, agent, evaluation_seeds(episodes), progress=None)
    seconds = time.perf_counter() - started
    env.close()
    return {"env_id": env_id, "backend": backend, "planner": planner, **summary.to_dict(),
            "plans": agent.plans, "seconds": round(seconds, 1),
            "plans_per_s": round(agent.plans / seconds, 1)}


def label(planner: dict) -> str:
    """The planning method and any options beyond the shared budget (``noise_beta=0``)."""
    extra = [f"{k}={v:g}" for k, v in planner.items() if k not in {**PLANNER, "method": None}]
    return " ".join([planner["method"], *extra])


def key(row: dict) -> tuple[str, str, str]:
    """Rows are kept per task, backend and planner (method and options)."""
    return row["env_id"], row["backend"], label(row["planner"])


def to_markdown(rows: list[dict]) -> str:
    """A line per task and backend."""
    lines = ["| task | backend | planner | success (95% CI) | episodes | mean return | mean length "
             "| outcomes | plans/s |",
             "|---|---|---|---|---:|---:|---:|---|---:|"]
    for r in rows:
        lo, hi = r["success_ci95"]
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))
        lines.append(f"| {r['env_id']} | {r['backend']} | {label(r['planner'])} "
                     f"| {r['success_rate']:.0%} ({lo:.0%}-{hi:.0%}) "
                     f"| {r['episodes']} | {r['mean_return']:.1f} | {r['mean_length']:.0f} | {outcomes} "
                     f"| {r['plans_per_s']:.1f} |")
    p = rows[0]["planner"]
    lines += ["", f"Planner budget: horizon {p['horizon']}, {p['samples']} samples, "
                  f"{p['iterations']} iterations, {p['elites']} elites; one env step per sample and "
                  "horizon step. iCEM: colored noise (beta 2) and 30% of the elites kept between iterations."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run every task and backend asked for; merge with earlier rows."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="*", default=envs.registered_ids())
    parser.add_argument("--backends", nargs="*", default=["mujoco"])
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--method", default="cem", choices=["cem", "icem", "mppi", "random_shooting"])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="planner options beside the budget, e.g. noise_beta=0 (an ablation row)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = args.out / "simulator_planner.json"
    rows = {key(r): r for r in json.loads(path.read_text())} if path.is_file() else {}
    for backend in args.backends:
        for env_id in args.tasks:
            options = {k: float(v) for k, v in (item.split("=", 1) for item in args.set)}
            row = run_task(env_id, backend, args.episodes, {**PLANNER, "method": args.method, **options})
            print({k: v for k, v in row.items() if k not in ("per_episode", "seeds")}, flush=True)
            rows[key(row)] = row
            ordered = [rows[k] for k in sorted(rows)]
            atomic_write_text(path, json.dumps(ordered, indent=1) + "\n")
            atomic_write_text(args.out / "simulator_planner.md", to_markdown(ordered))
    print(to_markdown([rows[k] for k in sorted(rows)]))


if __name__ == "__main__":
    main()
