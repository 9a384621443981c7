"""Imitation across tasks: BC on PickPlace (state), PushCube (images), multimodal ReachTwoGoals.

BC from state on PickPlace (both backends), from images on PushCube, and ReachTwoGoals (two valid
goals) with the MSE head, the Gaussian-mixture head and implicit BC.

    python scripts/experiments/imitation_tasks.py                          # every study, 3 seeds (long)
    python scripts/experiments/imitation_tasks.py --studies two_goals      # one study
    python scripts/experiments/imitation_tasks.py --quick                  # minutes: checks the pipeline

Each study collects scripted-expert demonstrations once (training seeds 0..N-1, DART noise on the
executed actions, clean labels), trains every method through the Learner interface on each
training seed, and tests each policy on the same held-out seeds (100000+). Rows are pooled over
training seeds with a Wilson 95% interval. Writes docs/results/imitation.{json,md,png}; studies
not run keep their earlier rows.
"""

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import envs  # noqa: E402
from agents import TrainingSource, find_method, make_config  # noqa: E402
from agents.experts import make_expert  # noqa: E402
from dataset import DatasetWriter, DemoDataset, atomic_write_text  # noqa: E402
from envs.tasks.reach_two_goals import ReachTwoGoalsTask  # noqa: E402
from loop import evaluate  # noqa: E402
from loop.collect import collect  # noqa: E402
from loop.evaluation import evaluation_seeds, pooled_success  # noqa: E402
from loop.relabel import Relabelled  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "docs" / "results"
EE_Y = ReachTwoGoalsTask.state_names.index("ee_y")
IMAGE = {"obs_mode": "rgb+proprio", "cameras": "top", "image_size": 64}


@dataclass(frozen=True)
class Study:
    """Demonstrations of one task, and the methods (name -> (method, options)) trained on them."""

    env_id: str
    env_kwargs: dict
    demos: int
    methods: dict[str, tuple[str, dict]]
    noise: float = 0.6
    goal: float = 0.8
    target: str = ""
    eval_kwargs: dict = field(default_factory=dict)
    modes: bool = False  # record each test episode's first action and the goal it ended nearer to


STUDIES = {
    "pick_place_mujoco": Study("roboloop/PickPlace-v0", {"backend": "mujoco"}, 200,
                               {"bc_state": ("bc", {})}, noise=0.1, target=">= 80%"),
    "pick_place_pybullet": Study("roboloop/PickPlace-v0", {"backend": "pybullet"}, 200,
                                 {"bc_state": ("bc", {})}, noise=0.1, target=">= 80%"),
    "push_cube_image": Study("roboloop/PushCube-v0", IMAGE, 200,
                             {"bc_image": ("bc", {"obs_keys": ["top_rgb", "proprio"], "steps": 15000,
                                                  "batch_size": 64, "hidden_sizes": [256, 256]})},
                             target=">= 80%"),
    "two_goals": Study("roboloop/ReachTwoGoals-v0", {}, 100,
                       {"bc_mse": ("bc", {"steps": 5000}),
                        "bc_mixture": ("bc", {"steps": 5000, "head": "mixture"}),
                        "ibc": ("ibc", {"steps": 3000})},
                       goal=0.9, target=">= 90% (mixture, IBC)", modes=True),
}


def make_dataset(root: Path, study: Study, demos: int) -> DemoDataset:
    """Expert demos on seeds 0..demos-1 with DART noise on the executed actions."""
    kwargs = {**study.env_kwargs, "privileged_state": True}
    writer = DatasetWriter(root, env_id=study.env_id, env_kwargs=kwargs, fps=20)
    env = envs.make(study.env_id, **kwargs)
    try:
        collect(env, Relabelled(make_expert(study.env_id), noise_std=study.noise), range(demos), writer,
                progress=None)
    finally:
        env.close()
    return DemoDataset(root)


class ModeProbe:
    """Loop callback for ReachTwoGoals: each episode's first action and which goal it ended nearer to."""

    def __init__(self) -> None:
        self.first_actions: list[list[float]] = []
        self.goals: list[str] = []
        self._last = None

    def on_reset(self, obs, info, seed) -> None:
        self._last = obs

    def on_step(self, step) -> None:
        if step.t == 0:
            self.first_actions.append([float(x) for x in step.action])
        self._last = step.next_obs

    def on_episode_end(self, result) -> None:
        ee_y = float(self._last[EE_Y])  # the goals mirror each other across y = 0
        self.goals.append("left" if ee_y > 0 else "right")


def run_cell(study: Study, data: DemoDataset, method: str, options: dict, seed: int,
             episodes: int) -> dict:
    """Train one policy on the demonstrations and test it on the held-out seeds."""
    t0 = time.perf_counter()
    config = make_config(method, {**options, "seed": seed})
    agent = find_method(method).fit(config, TrainingSource.from_dataset(data, progress=False))
    train_s = time.perf_counter() - t0
    env = envs.make(study.env_id, **{**data.env_kwargs, **study.eval_kwargs})
    probe = ModeProbe() if study.modes else None
    try:
        summary = evaluate(env, agent, evaluation_seeds(episodes), progress=None,
                           callbacks=[probe] if probe else ())
    finally:
        env.close()
    modes = {} if probe is None else {"first_actions": probe.first_actions, "goals": probe.goals,
                                      "left_goal_share": probe.goals.count("left") / len(probe.goals)}
    return {**modes, "seed": seed, "successes": round(summary.success_rate * summary.episodes),
            "episodes": summary.episodes, "success_rate": summary.success_rate,
            "mean_length": summary.mean_length, "train_seconds": round(train_s, 1),
            "eval_seconds": round(time.perf_counter() - t0 - train_s, 1)}


def to_markdown(rows: list[dict]) -> str:
    """Results table, one row per (study, method)."""
    lines = ["| study | method | demos | seeds | success (pooled) | 95% CI | per seed | mean steps "
             "| train s/seed | target |",
             "|---|---|---:|---:|---:|---|---|---:|---:|---|"]
    for r in rows:
        p = r["pooled"]
        per_seed = ", ".join(f"{c['success_rate']:.0%}" for c in r["cells"])
        train = sum(c["train_seconds"] for c in r["cells"]) / len(r["cells"])
        steps = [c["mean_length"] for c in r["cells"] if "mean_length" in c]
        length = f"{sum(steps) / len(steps):.1f}" if steps else "-"
        lines.append(f"| {r['study']} | {r['name']} | {r['demos']} | {len(r['cells'])} | "
                     f"{p['success_rate']:.1%} | {p['success_ci95'][0]:.1%}-{p['success_ci95'][1]:.1%} | "
                     f"{per_seed} | {length} | {train:.0f} | {r['target']} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """One bar per row with its pooled 95% interval, seeds as dots, each study's goal as a tick."""
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows)), 4))
    for i, r in enumerate(rows):
        p = r["pooled"]
        lo, hi = p["success_ci95"]
        ax.bar(i, p["success_rate"], color="C0" if p["success_rate"] >= r["goal"] else "C3", alpha=0.7)
        ax.errorbar(i, p["success_rate"], yerr=[[p["success_rate"] - lo], [hi - p["success_rate"]]],
                    color="k", capsize=4)
        ax.scatter([i] * len(r["cells"]), [c["success_rate"] for c in r["cells"]], color="k", s=10, zorder=3)
        ax.hlines(r["goal"], i - 0.4, i + 0.4, colors="grey", linestyles="--")
    ax.set_xticks(range(len(rows)), [f"{r['study']}\n{r['name']}" for r in rows], fontsize=7, rotation=20,
                  ha="right")
    ax.set(ylabel="held-out success rate", ylim=(0, 1.02),
           title="Imitation: pooled over training seeds (bars: 95% CI; dashes: goal)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_modes(rows: list[dict], path: Path) -> None:
    """ReachTwoGoals: each method's first actions (the decision between the goals), seed 0's policy."""
    rows = [r for r in rows if "first_actions" in r["cells"][0]]
    if not rows:
        return
    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.2), sharex=True, sharey=True)
    for ax, r in zip(list(np.atleast_1d(axes)), rows, strict=True):
        first = np.array(r["cells"][0]["first_actions"])
        left = np.mean([c["left_goal_share"] for c in r["cells"]])
        ax.scatter(first[:, 1], first[:, 0], s=10, alpha=0.6)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set(title=f"{r['name']}: {r['pooled']['success_rate']:.0%} success\n{left:.0%} to the left goal",
               xlabel="first action, y (toward left goal +)")
    np.atleast_1d(axes)[0].set_ylabel("first action, x")
    fig.suptitle("ReachTwoGoals: the first action of each held-out episode", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    """Run the chosen studies and merge their rows into the results files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", nargs="+", default=list(STUDIES), choices=list(STUDIES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=50, help="held-out test episodes per policy")
    parser.add_argument("--quick", action="store_true", help="tiny data and training: checks the pipeline")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.quick and args.out == OUT:
        args.out = Path("runs/experiments/imitation_quick")  # a pipeline check never overwrites results
    torch.set_num_threads(1)
    results = args.out / "imitation.json"
    rows = [] if args.quick or not results.exists() else json.loads(results.read_text())["rows"]
    for name in args.studies:
        study = STUDIES[name]
        demos, episodes, seeds = (5, 3, args.seeds[:1]) if args.quick else \
            (study.demos, args.episodes, args.seeds)
        with TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            data = make_dataset(Path(tmp) / "dataset", study, demos)
            expert_rate = sum(m.success for m in data.episodes) / len(data)
            print(f"{name}: {demos} demos in {time.perf_counter() - t0:.0f} s, expert success "
                  f"{expert_rate:.0%} (with DART noise {study.noise})", flush=True)
            for label, (method, options) in study.methods.items():
                if args.quick:
                    options = {**options, "steps": 20}
                cells = [run_cell(study, data, method, options, s, episodes) for s in seeds]
                row = {"study": name, "name": label, "method": method, "options": options,
                       "env_id": study.env_id, "env_kwargs": study.env_kwargs, "demos": demos,
                       "dart_noise": study.noise, "expert_demo_success": expert_rate,
                       "goal": study.goal, "target": study.target, "cells": cells,
                       "pooled": pooled_success(cells)}
                rows = [r for r in rows if (r["study"], r["name"]) != (name, label)] + [row]
                print(to_markdown([row]).splitlines()[-1], flush=True)
                order = {key: i for i, key in enumerate((s, m) for s in STUDIES for m in STUDIES[s].methods)}
                rows.sort(key=lambda r: order.get((r["study"], r["name"]), 999))
                args.out.mkdir(parents=True, exist_ok=True)
                atomic_write_text(results, json.dumps({"eval_seeds_start": 100_000, "rows": rows}, indent=2))
                atomic_write_text(args.out / "imitation.md", to_markdown(rows))
                plot(rows, args.out / "imitation.png")
                plot_modes(rows, args.out / "imitation_two_goals_modes.png")
    print(to_markdown(rows))


if __name__ == "__main__":
    main()
