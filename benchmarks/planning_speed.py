"""``python -m benchmarks.planning_speed``: plans per second of MPC's planners, one torch thread.

A plan is what ``MPCAgent.act`` does each env step: build the objective from the current state,
then search. Learned model: a Reach-sized (Ds = 17, Da = 3) 5-member ensemble, every member
rolling out every sample (PETS TS-inf, the mean over members), the task's batched reward; 500
samples, horizon 15, CEM and MPPI (and random shooting, one round), at 3 and 5 iterations, at
two MLP widths (the default [64, 64] and PETS' [200, 200]), and with both propagations: ``all``
(every member rolls out every sample; 2,500 rollouts) and ``one`` (sample i follows member
i mod 5; 500 rollouts). Speed does not depend on the weights,
so the model is untrained. The simulator planner plays each sample in the env itself (MuJoCo
Reach), so its row has a much smaller budget, the one scripts/experiments/simulator_planner.py
uses. Median over repeats. Writes ``benchmarks/results/planning_speed.{json,md}``.
Goal: CEM and MPPI, 5 members, 500 samples, horizon 15: >= 20 plans/s on 2 CPU cores.
"""

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np
import torch

from benchmarks.timing import median_ms
from dataset import atomic_write_text

OUT = Path(__file__).resolve().parent / "results"
REACH = "roboloop/Reach-v0"
GOAL = 20.0  # plans per second
SIM_PLANNER = {"method": "cem", "horizon": 15, "samples": 32, "iterations": 2, "elites": 4}  # experiment
CASES = [  # (MLP widths, planner, iterations, propagation)
    ([64, 64], "cem", 3, "all"), ([64, 64], "mppi", 3, "all"), ([64, 64], "cem", 5, "all"),
    ([64, 64], "cem", 3, "one"), ([64, 64], "mppi", 3, "one"), ([64, 64], "cem", 5, "one"),
    ([64, 64], "mppi", 5, "one"), ([64, 64], "random_shooting", 1, "all"),
    ([200, 200], "cem", 3, "all"), ([200, 200], "cem", 3, "one"), ([200, 200], "mppi", 3, "one"),
    ([64, 64], "icem", 3, "one"), ([128, 128], "icem", 3, "one"),  # the default; PushCube's widths
]


def model_case(method: str, iterations: int, hidden: list[int], repeats: int,
               propagation: str = "all") -> dict:
    """One planner over an untrained Reach-sized ensemble: ms per plan."""
    import envs
    from world_models.dynamics import WorldModelConfig, build
    from world_models.objectives import model_objective
    from world_models.planners import PlannerConfig, plan

    env = envs.make(REACH)
    state, _ = env.reset(seed=0)
    reward = env.unwrapped.task.batch_reward
    env.close()
    model = build(17, 3, WorldModelConfig(members=5, hidden=hidden, propagation=propagation)).eval()
    cfg = PlannerConfig(method=method, horizon=15, samples=500, iterations=iterations, elites=50)
    generator, mean = torch.Generator().manual_seed(0), torch.zeros(15, 3)
    ms = median_ms(lambda: plan(model_objective(model, state, reward), mean, cfg, generator), repeats)
    return {"planner": method, "iterations": iterations if method != "random_shooting" else 1,
            "hidden": hidden, "propagation": propagation, "members": 5, "samples": 500, "horizon": 15,
            "ms_per_plan": round(ms, 2),
            "plans_per_s": round(1000 / ms, 1)}


def simulator_case(repeats: int) -> dict:
    """The simulator planner on MuJoCo Reach: ms per plan (each sample played in the env)."""
    import envs
    from world_models.mpc import SimulatorPlanner
    from world_models.planners import PlannerConfig

    env = envs.make(REACH)
    obs, _ = env.reset(seed=0)
    agent = SimulatorPlanner(env, PlannerConfig(**SIM_PLANNER))
    ms = median_ms(lambda: agent.act(obs), repeats)
    env.close()
    steps = SIM_PLANNER["samples"] * SIM_PLANNER["horizon"] * SIM_PLANNER["iterations"]
    return {"planner": "simulator (cem)", "iterations": SIM_PLANNER["iterations"], "hidden": None,
            "propagation": None,
            "members": None, "samples": SIM_PLANNER["samples"], "horizon": SIM_PLANNER["horizon"],
            "ms_per_plan": round(ms, 2), "plans_per_s": round(1000 / ms, 1),
            "env_steps_per_plan": steps, "env_steps_per_s": round(steps / ms * 1000)}


def run(repeats: int) -> dict:
    """Every case; the machine's load beside the numbers (other processes share its cores)."""
    torch.set_num_threads(1)
    rows = []
    for hidden, method, iterations, propagation in CASES:
        rows.append(model_case(method, iterations, hidden, repeats, propagation))
        print(rows[-1], flush=True)
    rows.append(simulator_case(max(3, repeats // 4)))
    print(rows[-1], flush=True)
    return {"rows": rows, "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "python": platform.python_version(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()], "repeats": repeats,
            "numpy": np.__version__, "goal_plans_per_s": GOAL}


def to_markdown(result: dict) -> str:
    """One table, the goal's verdict per row."""
    lines = [f"One torch thread on {result['machine']} (load average {result['load_average_at_end']} at the "
             f"end: the cores are shared); median of {result['repeats']} plans. Goal: >= {GOAL:.0f} plans/s "
             "for CEM and MPPI with 5 members, 500 samples, horizon 15.", "",
             "| planner | iterations | MLP widths | propagation | members x samples x horizon | ms per plan "
             "| plans/s | goal |",
             "|---|---:|---|---|---|---:|---:|---|"]
    for r in result["rows"]:
        sized = (f"{r['members']} x {r['samples']} x {r['horizon']}" if r["members"] else
                 f"{r['samples']} x {r['horizon']} (env steps)")
        goal = ("met" if r["plans_per_s"] >= GOAL else "not met") if r["planner"] in ("cem", "mppi") else "-"
        lines.append(f"| {r['planner']} | {r['iterations']} | {r['hidden'] or '-'} "
                     f"| {r['propagation'] or '-'} | {sized} "
                     f"| {r['ms_per_plan']:.1f} | {r['plans_per_s']:.1f} | {goal} |")
    sim = result["rows"][-1]
    lines += ["", f"The simulator planner plays {sim['env_steps_per_plan']} env steps per plan "
                  f"({sim['env_steps_per_s']:,} env steps/s including state restores)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure, print, write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    result = run(args.repeats)
    markdown = to_markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "planning_speed.json", json.dumps(result, indent=1) + "\n")
    atomic_write_text(args.out / "planning_speed.md", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
