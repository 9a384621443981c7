"""Particles: a graph network vs the flat-state ensemble on PushParticles, 3 seeds.

    python scripts/experiments/particles.py            # 15 min here, one core under load
    python scripts/experiments/particles.py --plan-steps 400 --plan-episodes 3 --sim-episodes 2
        --out docs/results/particles/full_episodes     # (one command) whole episodes
    python scripts/experiments/particles.py --quick    # under a minute: checks the pipeline only

Per seed: collect training transitions on seeds ``1000 * seed + k`` (< 90000: half the episodes
the scripted expert with Gaussian noise, half uniform random actions), fit the graph network
(``world_model=graph``) and the PETS ensemble (``world_model=ensemble``) on the same data, then

- prediction: open-loop error after 1, 5 and 10 steps on held-out noisy-expert episodes (seeds
  100000+, the same for every seed), replaying the recorded actions: the mean distance between
  predicted and true particle positions (mm), with "particles stay put" as the baseline;
- planning: MPC (CEM) over each model on held-out episodes (100000+) of ``--plan-steps`` steps,
  success with a Wilson 95% interval pooled over seeds, and the mean final fraction of particles
  in the goal. The simulator planner (MPC over the env's own physics) and the scripted expert run
  the same episodes once (they do not depend on the training seed).

Writes docs/results/particles/particles.{json,md} and particles.png.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import envs  # noqa: E402
from agents.experts import PushParticlesExpert  # noqa: E402
from dataset import atomic_write_text  # noqa: E402
from loop import evaluate, rollout, wilson_interval  # noqa: E402
from loop.protocols import Callback  # noqa: E402
from loop.seeds import EVAL_START_SEED  # noqa: E402
from world_models.dynamics import WorldModelConfig, build, fit  # noqa: E402
from world_models.mpc import MPC, SimulatorPlanner, state_of  # noqa: E402
from world_models.objectives import check_model_fits, model_objective, task_reward  # noqa: E402
from world_models.planners import PlannerConfig  # noqa: E402
from world_models.training import Explorer, Transitions  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "results" / "particles"
QUICK_OUT = ROOT / "runs" / "experiments" / "particles_quick"  # a pipeline check never overwrites results
ENV_ID = "roboloop/PushParticles-v0"
STEPS = (1, 5, 10)  # open-loop prediction horizons
MODELS = {
    "graph": {"kind": "graph", "hidden": [32], "message_passing": 3, "radius": 0.04,
              "batch_size": 64, "train_steps": 3000},
    "ensemble": {"kind": "ensemble", "members": 5, "hidden": [128, 128], "train_steps": 3000,
                 "nll_beta": 0.0},
}
PLANNER = {"method": "cem", "horizon": 8, "samples": 100, "iterations": 2, "elites": 10}
SIM_SAMPLES = 32  # the simulator planner's samples: one env step per sample and horizon step


def make_env(**kwargs: Any) -> Any:
    """PushParticles from state, on MuJoCo."""
    return envs.make(ENV_ID, backend="mujoco", obs_mode="state", **kwargs)


def collect(seeds: list[int], noise: float, random_every: int, rng_seed: int) -> list[dict]:
    """Episodes as transitions: every ``random_every``-th one uniform random, the rest noisy expert."""
    env, rng = make_env(), np.random.default_rng(rng_seed)
    episodes = []
    for k, seed in enumerate(seeds):
        random = random_every and k % random_every == random_every - 1
        agent = Explorer(rng, 2, None if random else PushParticlesExpert(), noise)
        record = Transitions()
        rollout(env, agent, seed=seed, callbacks=[record])
        episodes.append(record.tensors())
    env.close()
    return episodes


def merge(episodes: list[dict]) -> dict:
    """One (N, ...) tensor per field."""
    return {k: torch.cat([e[k] for e in episodes]) for k in episodes[0]}


@torch.no_grad()
def open_loop_errors(model: Any, episodes: list[dict], n_particles: int) -> dict[int, float]:
    """Mean particle position error (mm) after k model steps from every 5th state, per k in STEPS.

    ``model`` None: the particles stay where they are (the baseline).
    """
    errors: dict[int, list[float]] = {k: [] for k in STEPS}
    for ep in episodes:
        s, a, s2 = ep["states"], ep["actions"], ep["next_states"]
        truth = torch.cat([s, s2[-1:]])  # (T + 1, Ds)
        starts = torch.arange(0, len(s) - max(STEPS) + 1, 5)
        members = 1 if model is None else model.members
        pred = truth[starts].expand(members, -1, -1)  # each member rolls out its own trajectory
        for k in range(1, max(STEPS) + 1):
            if model is not None:
                pred = model.predict(pred, a[starts + k - 1].expand(members, -1, -1))[0]
            if k in errors:  # the members' mean prediction
                diff = (pred.mean(0) - truth[starts + k])[:, 4:4 + 2 * n_particles]
                errors[k].append(diff.reshape(len(starts), -1, 2).norm(dim=-1).mean().item() * 1000)
    return {k: float(np.mean(v)) for k, v in errors.items()}


class Progress(Callback):
    """Per episode: the last fraction of particles in the goal, and how far (mm) it brought them.

    How far: the fall of the particles' mean distance to the goal from the first step to the last
    (the ``distance`` reward term is -10 x that distance).
    """

    def __init__(self) -> None:
        self.in_goal: list[float] = []
        self.closer_mm: list[float] = []
        self._first: float | None = None
        self._last: dict = {}

    def on_reset(self, obs: Any, info: dict, seed: Any) -> None:  # noqa: D102
        self._first, self._last = None, {}

    def on_step(self, step: Any) -> None:  # noqa: D102
        self._last = step.info["reward_terms"]
        if self._first is None:
            self._first = self._last["distance"]

    def on_episode_end(self, result: Any) -> None:  # noqa: D102
        self.in_goal.append(self._last.get("in_goal", 0.0))
        self.closer_mm.append(100.0 * (self._last.get("distance", 0.0) - (self._first or 0.0)))


def plan_with(agent: Any, env: Any, seeds: list[int]) -> dict:
    """Successes, episodes, and the mean final in-goal fraction of ``agent`` on ``seeds``."""
    progress = Progress()
    summary = evaluate(env, agent, seeds, callbacks=[progress], progress=None)
    wins = round(summary.success_rate * summary.episodes)
    return {"successes": wins, "episodes": summary.episodes, "final_in_goal": progress.in_goal,
            "closer_mm": progress.closer_mm}


class ModelMPC:
    """An Agent: MPC over a learned model with the task's batched reward."""

    def __init__(self, model: Any, reward_fn: Any, planner: PlannerConfig, seed: int) -> None:
        self.mpc = MPC(lambda s: model_objective(model, s, reward_fn), planner, 2, seed)

    def reset(self) -> None:  # noqa: D102
        self.mpc.reset()

    def act(self, features: Any) -> np.ndarray:  # noqa: D102
        return self.mpc.act(state_of(features))


def run_seed(seed: int, args: argparse.Namespace, held_out: list[dict], plan_seeds: list[int]) -> dict:
    """Collect, fit both models, measure prediction error and planning for one training seed."""
    train_seeds = [1000 * seed + k for k in range(args.episodes)]
    data = merge(collect(train_seeds, noise=0.3, random_every=2, rng_seed=seed))
    env = make_env(horizon=args.plan_steps)
    n_particles = env.unwrapped.task.n_particles
    out: dict[str, Any] = {"seed": seed, "transitions": len(data["states"]), "models": {}}
    for name, options in MODELS.items():
        beta = {"nll_beta": args.nll_beta} if options["kind"] == "ensemble" else {}
        cfg = WorldModelConfig(**{**options, **beta, "seed": seed,
                                  "train_steps": args.train_steps or options["train_steps"]})
        model = build(env.observation_space.shape[0], 2, cfg)
        check_model_fits(model, env)
        started = time.perf_counter()
        scalars = fit(model, data, torch.Generator().manual_seed(seed))
        fit_s = time.perf_counter() - started
        model.eval()
        started = time.perf_counter()
        agent = ModelMPC(model, task_reward(env), PlannerConfig(**planner_options(args)), seed)
        planning = plan_with(agent, env, plan_seeds)
        out["models"][name] = {"fit_s": fit_s, "train_mse": scalars["model_mse"],
                               "error_mm": open_loop_errors(model, held_out, n_particles),
                               "planning": planning, "plan_s": time.perf_counter() - started}
        print(f"seed {seed} {name}: {out['models'][name]['error_mm']} planning {planning}", flush=True)
    env.close()
    return out


def planner_options(args: argparse.Namespace) -> dict:
    """``PLANNER`` with the command line's method and look-ahead."""
    return {**PLANNER, "method": args.planner_method, "horizon": args.plan_horizon}


def reference_planners(plan_seeds: list[int], args: argparse.Namespace) -> dict:
    """The simulator planner and the scripted expert on the planning episodes."""
    env = make_env(horizon=args.plan_steps)
    started = time.perf_counter()
    elites = min(PLANNER["elites"], max(1, args.sim_samples // 4))
    planner = {**planner_options(args), "samples": args.sim_samples, "elites": elites}
    sim = SimulatorPlanner(env, PlannerConfig(**planner), seed=0)
    out = {"simulator": plan_with(sim, env, plan_seeds[:args.sim_episodes])}
    out["simulator"]["plan_s"] = time.perf_counter() - started
    out["expert"] = plan_with(PushParticlesExpert(), env, plan_seeds)
    env.close()
    return out


def summarize(runs: list[dict], references: dict) -> dict:
    """Per model: prediction error mean and range over seeds; planning pooled over seeds."""
    rows: dict[str, Any] = {}
    for name in MODELS:
        per_seed = [r["models"][name] for r in runs]
        k, n = (sum(p["planning"][f] for p in per_seed) for f in ("successes", "episodes"))
        rows[name] = {
            "error_mm": {str(s): [float(np.mean([p["error_mm"][s] for p in per_seed])),
                                  min(p["error_mm"][s] for p in per_seed),
                                  max(p["error_mm"][s] for p in per_seed)] for s in STEPS},
            "success": [k, n, *wilson_interval(k, n)],
            "final_in_goal": float(np.mean([v for p in per_seed for v in p["planning"]["final_in_goal"]])),
            "closer_mm": float(np.mean([v for p in per_seed for v in p["planning"]["closer_mm"]])),
            "fit_s": float(np.mean([p["fit_s"] for p in per_seed])),
            "plan_s_per_episode": float(np.mean([p["plan_s"] / p["planning"]["episodes"] for p in per_seed])),
        }
    for name, ref in references.items():
        k, n = ref["successes"], ref["episodes"]
        rows[name] = {"success": [k, n, *wilson_interval(k, n)],
                      "final_in_goal": float(np.mean(ref["final_in_goal"])),
                      "closer_mm": float(np.mean(ref["closer_mm"]))}
    return rows


def to_markdown(rows: dict, baseline: dict, args: argparse.Namespace) -> str:
    """The prediction and planning tables."""
    lines = ["| model | " + " | ".join(f"{s}-step error (mm)" for s in STEPS) + " |",
             "|---|" + "---|" * len(STEPS),
             "| particles stay put | " + " | ".join(f"{baseline[s]:.2f}" for s in STEPS) + " |"]
    for name in MODELS:
        errors = (rows[name]["error_mm"][str(s)] for s in STEPS)
        cells = [f"{m:.2f} ({lo:.2f}-{hi:.2f})" for m, lo, hi in errors]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"| planner ({args.plan_steps}-step episodes) | success | 95% CI | final fraction in goal "
              "| particles' mean distance to the goal fell by (mm) |", "|---|---|---|---|---|"]
    for name, row in rows.items():
        k, n, lo, hi = row["success"]
        lines.append(f"| {name} | {k}/{n} | {100 * lo:.1f}%-{100 * hi:.1f}% | {row['final_in_goal']:.2f} "
                     f"| {row['closer_mm']:.1f} |")
    return "\n".join(lines) + "\n"


def plot(rows: dict, baseline: dict, path: Path) -> None:
    """Open-loop particle error against prediction steps, mean and range over seeds."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(STEPS, [baseline[s] for s in STEPS], "k--", label="particles stay put")
    for name in MODELS:
        mean, lo, hi = zip(*(rows[name]["error_mm"][str(s)] for s in STEPS), strict=True)
        ax.plot(STEPS, mean, "o-", label=name)
        ax.fill_between(STEPS, lo, hi, alpha=0.2)
    ax.set(xlabel="open-loop steps", ylabel="mean particle error (mm)", title="PushParticles, held-out")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    """Run every seed, the reference planners, and write the results."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=24, help="training episodes per seed")
    parser.add_argument("--held-out", type=int, default=6, help="held-out episodes for prediction error")
    parser.add_argument("--plan-episodes", type=int, default=5, help="planning episodes per seed and model")
    parser.add_argument("--plan-steps", type=int, default=150, help="length of a planning episode")
    parser.add_argument("--plan-horizon", type=int, default=PLANNER["horizon"], help="CEM's look-ahead H")
    parser.add_argument("--planner-method", default=PLANNER["method"], choices=["cem", "icem", "mppi"],
                        help="every planner's method, the simulator's included")
    parser.add_argument("--nll-beta", type=float, default=MODELS["ensemble"]["nll_beta"],
                        help="the ensemble's beta-NLL (0: plain NLL)")
    parser.add_argument("--sim-episodes", type=int, default=3)
    parser.add_argument("--sim-samples", type=int, default=SIM_SAMPLES)
    parser.add_argument("--train-steps", type=int, default=0, help="override both models' (0: keep)")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks the pipeline only")
    parser.add_argument("--out", type=Path, default=None, help=f"default {OUT} (--quick: {QUICK_OUT})")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.episodes, args.held_out, args.plan_episodes = args.seeds[:1], 2, 1, 1
        args.plan_steps, args.sim_episodes, args.sim_samples, args.train_steps = 12, 1, 4, 5
    args.out = args.out or (QUICK_OUT if args.quick else OUT)
    torch.set_num_threads(1)
    started = time.perf_counter()
    held_out = collect([EVAL_START_SEED + k for k in range(args.held_out)], noise=0.3, random_every=0,
                       rng_seed=100000)
    n_particles = make_env().unwrapped.task.n_particles
    baseline = open_loop_errors(None, held_out, n_particles)
    plan_seeds = [EVAL_START_SEED + 500 + k for k in range(args.plan_episodes)]
    runs = [run_seed(seed, args, held_out, plan_seeds) for seed in args.seeds]
    references = reference_planners(plan_seeds, args)
    rows = summarize(runs, references)
    args.out.mkdir(parents=True, exist_ok=True)
    models = {**MODELS, "ensemble": {**MODELS["ensemble"], "nll_beta": args.nll_beta}}
    record = {"env_id": ENV_ID, "backend": "mujoco", "seeds": args.seeds, "models": models,
              "planner": planner_options(args),
              "args": {k: str(v) for k, v in vars(args).items()},
              "baseline_error_mm": baseline, "summary": rows, "runs": runs, "references": references,
              "minutes": (time.perf_counter() - started) / 60}
    atomic_write_text(args.out / "particles.json", json.dumps(record, indent=1) + "\n")
    atomic_write_text(args.out / "particles.md", to_markdown(rows, baseline, args))
    plot(rows, baseline, args.out / "particles.png")
    print(to_markdown(rows, baseline, args), f"{record['minutes']:.1f} min", flush=True)


if __name__ == "__main__":
    main()
