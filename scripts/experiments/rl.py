"""Online RL across seeds: DQN on CartPole (3 envs), SAC and PPO on Reach (2 backends), DQN from pixels.

    python scripts/experiments/rl.py                         # every cell, 3 seeds (about 2 hours)
    python scripts/experiments/rl.py --cells dqn_cartpole_v1 zoo_dqn_cartpole_v1 --seeds 0 1 2
    python scripts/experiments/rl.py --quick                 # a few minutes: checks the pipeline

Every agent trains through ``agents`` (the Learner interface scripts/train.py uses), selects its
best checkpoint on validation seeds (90000+), and is tested on 100 held-out episodes (seeds
100000+). ``zoo_dqn_cartpole_v1`` is the reference: plain stable-baselines3 DQN with RL Zoo's
CartPole hyperparameters, its final policy tested on the same episodes. Writes
docs/results/rl.{json,md} and rl_curves.png; each run's checkpoints and curve go to --runs.
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import envs  # noqa: E402,F401
from agents import TrainingSource, find_method, make_config  # noqa: E402
from dataset import atomic_write_text  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from online_results import per_seed, pooled, test_figures  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "results"
RUNS = ROOT / "runs" / "experiments" / "rl"  # checkpoints and curves of every run (git-ignored)
TEST_EPISODES = 100


@dataclass(frozen=True)
class Cell:
    """One row of the results: a method on an env, with config overrides."""

    name: str
    method: str
    env_id: str
    env_kwargs: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    goal: str = ""


CELLS = [
    Cell("dqn_cartpole_mujoco", "dqn", "roboloop/CartPole-v0", {"backend": "mujoco"}, goal="return >= 475"),
    Cell("dqn_cartpole_pybullet", "dqn", "roboloop/CartPole-v0", {"backend": "pybullet"},
         goal="return >= 475"),
    Cell("dqn_cartpole_v1", "dqn", "CartPole-v1", goal="return >= 475"),
    Cell("zoo_dqn_cartpole_v1", "zoo_dqn", "CartPole-v1", goal="reference"),
    Cell("sac_reach_mujoco", "sac", "roboloop/Reach-v0", {"backend": "mujoco"}, goal="success >= 90%"),
    Cell("sac_reach_pybullet", "sac", "roboloop/Reach-v0", {"backend": "pybullet"}, goal="success >= 90%"),
    Cell("ppo_reach_mujoco", "ppo", "roboloop/Reach-v0", {"backend": "mujoco"}, goal="success >= 90%"),
    Cell("ppo_reach_pybullet", "ppo", "roboloop/Reach-v0", {"backend": "pybullet"}, goal="success >= 90%"),
    Cell("dqn_pixels_cartpole", "dqn", "roboloop/CartPole-v0",
         {"obs_mode": "rgb", "image_size": 64, "cameras": "close"},
         {"obs_keys": ["close_rgb"], "frame_stack": 3, "buffer_size": 50_000, "total_steps": 30_000},
         goal="curve only"),
]
ZOO_DQN = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
               target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
               exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]))


class SB3Policy:
    """A plain SB3 model behind the Agent protocol, so the reference is tested by the same loop."""

    def __init__(self, model) -> None:
        self.model = model

    def reset(self) -> None:
        """Memoryless."""

    def act(self, features):
        """The deterministic action."""
        return np.int64(self.model.predict(features, deterministic=True)[0])


def run_zoo(cell: Cell, seed: int, steps: int) -> tuple[object, dict]:
    """Plain SB3 DQN with RL Zoo's CartPole hyperparameters; its final policy."""
    import gymnasium as gym
    from stable_baselines3 import DQN

    model = DQN("MlpPolicy", gym.make(cell.env_id), seed=seed, device="cpu", **ZOO_DQN)
    model.learn(steps)
    return SB3Policy(model), {"env_steps": int(model.num_timesteps)}


def run_cell(cell: Cell, seed: int, runs: Path, quick: bool) -> dict:
    """Train one seed, test it on held-out episodes, summarize its validation curve."""
    started = time.perf_counter()
    run_dir = runs / cell.name / f"seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    options = {**cell.options, "seed": seed}
    if quick:
        options.update(total_steps=2000, eval_every=1000, eval_episodes=3)
    if cell.method == "zoo_dqn":
        agent, facts = run_zoo(cell, seed, 2000 if quick else 50_000)
        curve = []
    else:
        source = TrainingSource(cell.env_id, dict(cell.env_kwargs), progress=False, run_dir=run_dir)
        agent = find_method(cell.method).fit(make_config(cell.method, options), source)
        facts = {"env_steps": agent.meta.extra["env_steps"]}
        curve = json.loads((run_dir / "learning_curve.json").read_text())
    train_s = time.perf_counter() - started
    return {"seed": seed, "train_seconds": round(train_s, 1), "selected_step": facts["env_steps"],
            **test_figures(cell.env_id, cell.env_kwargs, agent, curve, 3 if quick else TEST_EPISODES)}


def summarize(cell: Cell, runs: list[dict]) -> dict:
    """Pooled test success (Wilson 95%) and per-seed figures."""
    return {"cell": cell.name, "method": cell.method, "env_id": cell.env_id, "env_kwargs": cell.env_kwargs,
            "options": cell.options, "goal": cell.goal, "runs": runs, **pooled(runs),
            "min_seed_return": min(r["test_mean_return"] for r in runs)}


def to_markdown(rows: list[dict]) -> str:
    """One table: a line per cell, seeds side by side."""
    lines = ["| cell | goal | test mean return per seed | test success per seed | pooled success (95% CI) "
             "| steps to 90% validation success | train time per seed (s) |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        runs = row["runs"]
        lo, hi = row["pooled_success_ci95"]
        reach, returns = per_seed(runs, "validation_90_step", ","), per_seed(runs, "test_mean_return", ".1f")
        success, seconds = per_seed(runs, "test_success", ".0%"), per_seed(runs, "train_seconds", ".0f")
        lines.append(f"| {row['cell']} | {row['goal']} | {returns} | {success} "
                     f"| {row['pooled_success']:.1%} ({lo:.1%}-{hi:.1%}) | {reach} | {seconds} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """Validation success and return vs env steps, one panel per cell, one line per seed."""
    rows = [r for r in rows if any(run["curve"] for run in r["runs"])]
    fig, axes = plt.subplots(len(rows), 1, figsize=(7, 2.2 * len(rows)), squeeze=False)
    for ax, row in zip(axes[:, 0], rows, strict=True):
        for run in row["runs"]:
            steps = [p["step"] for p in run["curve"]]
            ax.plot(steps, [p["mean_return"] for p in run["curve"]], marker=".", label=f"seed {run['seed']}")
        ax.set(title=f"{row['cell']} (validation)", ylabel="mean return")
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("env steps")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    """Run the chosen cells and seeds; merge with earlier results for other cells."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="*", default=[c.name for c in CELLS],
                        choices=[c.name for c in CELLS])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks the pipeline only")
    parser.add_argument("--out", type=Path, default=OUT, help="where rl.{json,md} and the plot go")
    parser.add_argument("--runs", type=Path, default=RUNS, help="where each run's checkpoints go")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "rl.json"
    previous = {r["cell"]: r for r in json.loads(results_path.read_text())} if results_path.is_file() else {}
    for cell in [c for c in CELLS if c.name in args.cells]:
        runs = []
        for seed in args.seeds:
            runs.append(run_cell(cell, seed, args.runs, args.quick))
            print(cell.name, {k: v for k, v in runs[-1].items() if k != "curve"}, flush=True)
        previous[cell.name] = summarize(cell, runs)
        rows = [previous[c.name] for c in CELLS if c.name in previous]
        atomic_write_text(results_path, json.dumps(rows, indent=1) + "\n")
        atomic_write_text(args.out / "rl.md", to_markdown(rows))
        plot(rows, args.out / "rl_curves.png")
    print(to_markdown([previous[c.name] for c in CELLS if c.name in previous]))


if __name__ == "__main__":
    main()
