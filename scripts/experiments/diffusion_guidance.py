"""Classifier-free guidance on ReachTwoGoals: command a goal, count how often the policy goes there.

    python scripts/experiments/diffusion_guidance.py            # 3 seeds x 50 held-out episodes (~20 min)
    python scripts/experiments/diffusion_guidance.py --quick    # ~1 min: checks the pipeline

The expert picks one of the two goals per episode at random, so its demonstrations hold both modes.
Each demonstration is labelled in hindsight with the goal it reached (``goal_command``: one-hot,
left then right), and a diffusion policy is trained with that label as its goal condition
(``goal_keys``), replaced by a learned "no goal" in 20% of the windows. At test time a wrapper
commands a goal per episode (left on even held-out seeds, right on odd ones) and the policy is
sampled with guidance scales w = 0 (the goal ignored: the unconditional policy), 1 (conditioned)
and 2, 4 (guided). Reported per w: success (either goal), the share of episodes that ended at the
commanded goal (ms per chunk is kept in the JSON; it is only meaningful on a quiet machine).

Writes docs/results/diffusion_guidance.{json,md,png} (--quick: runs/experiments/diffusion_guidance_quick).
"""

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory

import gymnasium as gym
import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diffusion_policy import BASE, DDPM, TimedAgent  # noqa: E402
from imitation_tasks import EE_Y, Study, make_dataset  # noqa: E402

import envs  # noqa: E402
from agents import TrainingSource, find_method, make_config  # noqa: E402
from agents.diffusion.agent import DiffusionAgent  # noqa: E402
from dataset import DatasetWriter, DemoDataset, Episode, atomic_write_text  # noqa: E402
from loop import Callback, evaluate  # noqa: E402
from loop.evaluation import evaluation_seeds, wilson_interval  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "docs" / "results"
STUDY = Study("roboloop/ReachTwoGoals-v0", {}, 100, {}, noise=0.6)
GOALS = ("left", "right")  # the goal on +y, the goal on -y
SCALES = (0.0, 1.0, 2.0, 4.0)
OPTIONS = {**BASE, **DDPM, "goal_keys": ["goal_command"], "goal_dropout": 0.2, "steps": 4000}


def one_hot(goal: int) -> np.ndarray:
    """The command for goal 0 (left) or 1 (right)."""
    return np.eye(len(GOALS), dtype=np.float32)[goal]


def goal_reached(state: np.ndarray) -> int:
    """0 if the tool ended on the left (+y) side, else 1: the goals mirror each other across y = 0."""
    return 0 if float(state[EE_Y]) > 0 else 1


def label_goals(data: DemoDataset, root: Path) -> DemoDataset:
    """A copy of ``data`` whose frames carry ``goal_command``: the goal each episode reached."""
    writer = DatasetWriter(root, env_id=data.env_id, env_kwargs=data.env_kwargs, fps=data.fps)
    for i in range(len(data)):
        ep = data.episode(i)
        command = one_hot(goal_reached(ep.observations["state"][-1]))
        observations = {**ep.observations, "goal_command": np.tile(command, (ep.length, 1))}
        writer.add_episode(Episode(ep.seed, observations, ep.actions, ep.rewards, ep.success, ep.terminated,
                                   ep.truncated, ep.extra))
    return DemoDataset(root)


class CommandGoal(gym.ObservationWrapper):
    """Adds ``goal_command`` to the state: left on even reset seeds, right on odd ones."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.goal = 0
        self.observation_space = gym.spaces.Dict({
            "state": env.observation_space,
            "goal_command": gym.spaces.Box(0.0, 1.0, (len(GOALS),), np.float32)})

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Choose this episode's goal from the seed, then reset."""
        self.goal = (seed or 0) % len(GOALS)
        return super().reset(seed=seed, options=options)

    def observation(self, observation: np.ndarray) -> dict:
        """The state and the command."""
        return {"state": observation, "goal_command": one_hot(self.goal)}


class GoalOutcome(Callback):
    """Per episode: the commanded goal and the goal the tool ended at."""

    def __init__(self, env: CommandGoal) -> None:
        self.env, self.commanded, self.reached, self._last = env, [], [], None

    def on_step(self, step) -> None:
        self._last = step.next_obs["state"]

    def on_episode_end(self, result) -> None:
        self.commanded.append(self.env.goal)
        self.reached.append(goal_reached(self._last) if result.success else -1)


def test_scale(agent: DiffusionAgent, data: DemoDataset, scale: float, episodes: int) -> dict:
    """Held-out episodes with goals commanded, sampled at guidance scale ``scale``."""
    guided = DiffusionAgent(agent.model, replace(agent.config, guidance_scale=scale), agent.meta)
    env = CommandGoal(envs.make(STUDY.env_id, **data.env_kwargs))
    timed, outcome = TimedAgent(guided), GoalOutcome(env)
    try:
        summary = evaluate(env, timed, evaluation_seeds(episodes), progress=None, callbacks=[outcome])
    finally:
        env.close()
    hits = sum(c == r for c, r in zip(outcome.commanded, outcome.reached, strict=True))
    return {"episodes": summary.episodes, "success_rate": summary.success_rate,
            "commanded_goal_hits": hits, "commanded_goal_rate": hits / summary.episodes,
            "chunk_ms_median": float(np.median(timed.chunk_ms))}


def pool(cells: list[dict]) -> dict:
    """Pooled episodes of every seed: success and commanded-goal rates with Wilson intervals."""
    n = sum(c["episodes"] for c in cells)
    hits = sum(c["commanded_goal_hits"] for c in cells)
    successes = sum(round(c["success_rate"] * c["episodes"]) for c in cells)
    return {"episodes": n, "success_rate": successes / n, "success_ci95": wilson_interval(successes, n),
            "commanded_goal_rate": hits / n, "commanded_goal_ci95": wilson_interval(hits, n),
            "chunk_ms": float(np.median([c["chunk_ms_median"] for c in cells]))}


def to_markdown(result: dict) -> str:
    """One row per guidance scale."""
    lines = [f"ReachTwoGoals, {result['demos']} demos labelled with the goal they reached, "
             f"{len(result['seeds'])} training seeds x {result['episodes']} held-out episodes, the goal "
             "commanded alternately.", "",
             "| guidance scale w | success (either goal) | 95% CI | reached the commanded goal | 95% CI "
             "| per seed |", "|---:|---:|---|---:|---|---|"]
    for scale, row in result["scales"].items():
        p = row["pooled"]
        per_seed = ", ".join(f"{c['commanded_goal_rate']:.0%}" for c in row["cells"])
        lines.append(f"| {scale} | {p['success_rate']:.1%} | {p['success_ci95'][0]:.1%}-"
                     f"{p['success_ci95'][1]:.1%} | {p['commanded_goal_rate']:.1%} | "
                     f"{p['commanded_goal_ci95'][0]:.1%}-{p['commanded_goal_ci95'][1]:.1%} | {per_seed} |")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    """Commanded-goal rate and success against the guidance scale."""
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    scales = [float(s) for s in result["scales"]]
    series = (("commanded_goal", "reached the commanded goal"), ("success", "success (either goal)"))
    for key, label in series:
        rows = [r["pooled"] for r in result["scales"].values()]
        rate = [r[f"{key}_rate"] for r in rows]
        err = np.array([[r[f"{key}_rate"] - r[f"{key}_ci95"][0], r[f"{key}_ci95"][1] - r[f"{key}_rate"]]
                        for r in rows]).T
        ax.errorbar(scales, rate, yerr=err, fmt="o-", capsize=3, label=label)
    ax.axhline(0.5, color="grey", ls="--", lw=0.8)
    ax.set(xlabel="guidance scale w (0: goal ignored)", ylabel="share of episodes", ylim=(0, 1.02),
           title="ReachTwoGoals: classifier-free guidance (95% CI)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    """Collect, label, train one policy per seed, test it at every guidance scale, write results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=50, help="held-out test episodes per scale and seed")
    parser.add_argument("--quick", action="store_true", help="tiny data and training: checks the pipeline")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.quick and args.out == OUT:
        args.out = Path("runs/experiments/diffusion_guidance_quick")
    torch.set_num_threads(1)
    demos, episodes, seeds = (6, 2, args.seeds[:1]) if args.quick else \
        (STUDY.demos, args.episodes, args.seeds)
    options = {**OPTIONS, "steps": 40} if args.quick else OPTIONS
    result = {"demos": demos, "seeds": seeds, "episodes": episodes, "options": options, "scales": {}}
    per_scale: dict[float, list[dict]] = {s: [] for s in SCALES}
    with TemporaryDirectory() as tmp:
        data = label_goals(make_dataset(Path(tmp) / "raw", STUDY, demos), Path(tmp) / "labelled")
        for seed in seeds:
            t0 = time.perf_counter()
            config = make_config("diffusion", {**options, "seed": seed})
            agent = find_method("diffusion").fit(config, TrainingSource.from_dataset(data, progress=False))
            print(f"seed {seed}: trained in {time.perf_counter() - t0:.0f} s", flush=True)
            for scale in SCALES:
                cell = {"seed": seed, **test_scale(agent, data, scale, episodes)}
                per_scale[scale].append(cell)
                print(f"  w={scale}: success {cell['success_rate']:.0%}, commanded goal "
                      f"{cell['commanded_goal_rate']:.0%}, {cell['chunk_ms_median']:.1f} ms/chunk",
                      flush=True)
    result["scales"] = {str(s): {"cells": cells, "pooled": pool(cells)} for s, cells in per_scale.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "diffusion_guidance.json", json.dumps(result, indent=1))
    atomic_write_text(args.out / "diffusion_guidance.md", to_markdown(result))
    plot(result, args.out / "diffusion_guidance.png")
    print(to_markdown(result))


if __name__ == "__main__":
    main()
