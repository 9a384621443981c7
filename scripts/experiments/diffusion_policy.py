"""Diffusion policies: PushCube and PushT from state, ReachTwoGoals' two modes, samplers compared.

    python scripts/experiments/diffusion_policy.py                          # every study, 3 seeds (hours)
    python scripts/experiments/diffusion_policy.py --studies push_cube      # one study
    python scripts/experiments/diffusion_policy.py --quick                  # ~1 min: checks the pipeline

Each study collects scripted-expert demonstrations once (training seeds 0..N-1, DART noise on the
executed actions, clean labels) and trains one policy per training seed through the Learner
interface, saving the EMA policy at several checkpoints. As the Diffusion Policy paper reports,
each checkpoint is tested on the same held-out seeds (100000+) and a seed's score is the max over
its checkpoints and the mean of its last three; rows pool the seeds (success: Wilson 95% interval
of the pooled episodes; PushT: mean final coverage with a bootstrap interval over episodes).

- ``push_cube``: DDPM (cosine, epsilon, 100 steps), DDIM-10 sampling, Tp = 16, Ta = 2; then each
  seed's final policy sampled with DDPM-100 and DDIM-10/4/2 (success and ms per chunk, measured
  while acting).
- ``push_cube_flow``: the same with rectified flow (same data, steps and network), sampled with
  1, 2, 4 and 10 Euler steps. The two studies can run in parallel processes.
- ``two_goals``: ReachTwoGoals; which goal each test episode reached, and a scatter of 200
  chunks sampled for one start observation.
- ``push_t``: PushT from state, final coverage of the T.
- ``push_t_images``: PushT from the top camera (64 x 64 RGB) and proprio, the encoder trained end to end.

Writes docs/results/diffusion.{json,md} and diffusion_*.png (--quick: runs/experiments/diffusion_quick).
"""

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from tempfile import TemporaryDirectory

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from imitation_tasks import EE_Y, IMAGE, Study, make_dataset  # noqa: E402

import envs  # noqa: E402
from agents import TrainingSource, find_method, load_agent, make_config  # noqa: E402
from agents.diffusion.agent import DiffusionAgent  # noqa: E402
from dataset import DemoDataset, atomic_write_text  # noqa: E402
from loop import Callback, evaluate  # noqa: E402
from loop.evaluation import evaluation_seeds, pooled_success  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "docs" / "results"
DDPM = {"objective": "ddpm", "sampler": "ddim", "inference_steps": 10}
FLOW = {"objective": "flow", "sampler": "euler", "inference_steps": 4}
BASE = {"down_dims": [32, 64, 128], "batch_size": 64, "lr": 1e-3}


@dataclass(frozen=True)
class DiffusionStudy:
    """A task, its demonstrations, the policy's options and what is measured."""

    study: Study
    options: dict
    steps: int
    checkpoints: int = 4  # evenly spaced; the last is the final policy
    samplers: dict = field(default_factory=dict)  # label -> acting options for each seed's final policy
    goal: str = ""


PUSH_CUBE = Study("roboloop/PushCube-v0", {}, 200, {}, noise=0.6)
PUSH_CUBE_OPTIONS = {**BASE, "action_horizon": 16, "action_steps": 2}  # PushCube is reactive: Ta = 2
STUDIES = {
    "push_cube": DiffusionStudy(
        PUSH_CUBE, {**PUSH_CUBE_OPTIONS, **DDPM}, steps=6000, checkpoints=3, goal=">= 95% success",
        samplers={"DDPM-100": {"sampler": "ddpm", "inference_steps": 100}, "DDIM-10": {"inference_steps": 10},
                  "DDIM-4": {"inference_steps": 4}, "DDIM-2": {"inference_steps": 2}}),
    "push_cube_flow": DiffusionStudy(
        PUSH_CUBE, {**PUSH_CUBE_OPTIONS, **FLOW}, steps=6000, checkpoints=3, goal="(flow matching)",
        samplers={f"flow-{n}": {"inference_steps": n} for n in (1, 2, 4, 10)}),
    "two_goals": DiffusionStudy(Study("roboloop/ReachTwoGoals-v0", {}, 100, {}, noise=0.6),
                                {**BASE, **DDPM}, steps=4000, goal=">= 90% success, both goals"),
    "push_t": DiffusionStudy(Study("roboloop/PushT-v0", {}, 200, {}, noise=0.1),
                             {**BASE, **DDPM}, steps=20000, goal="mean final coverage >= 0.90"),
    "push_t_images": DiffusionStudy(Study("roboloop/PushT-v0", IMAGE, 200, {}, noise=0.1),
                                    {**BASE, **DDPM, "obs_keys": ["top_rgb", "proprio"]}, steps=20000,
                                    goal="report; the paper: 0.84 mean / 0.91 max"),
}


class Outcome(Callback):
    """Per episode: final coverage (PushT), the goal reached (ReachTwoGoals), ms per chunk."""

    def __init__(self) -> None:
        self.coverage: list[float] = []
        self.max_coverage: list[float] = []
        self.goals: list[str] = []
        self._cov: list[float] = []
        self._last = None

    def on_reset(self, obs, info, seed) -> None:
        self._cov, self._last = [], obs

    def on_step(self, step) -> None:
        terms = step.info.get("reward_terms", {})
        if "coverage" in terms:
            self._cov.append(float(terms["coverage"]))
        self._last = step.next_obs

    def on_episode_end(self, result) -> None:
        if self._cov:
            self.coverage.append(self._cov[-1])
            self.max_coverage.append(max(self._cov))
        state = self._last["state"] if isinstance(self._last, dict) else self._last
        if len(state) > EE_Y:
            self.goals.append("left" if float(state[EE_Y]) > 0 else "right")


class TimedAgent:
    """Wraps an agent; times every ``_predict`` (one chunk) while it acts."""

    def __init__(self, agent: DiffusionAgent) -> None:
        self.agent, self.chunk_ms = agent, []
        predict = agent._predict

        def timed(frames):
            t0 = time.perf_counter()
            out = predict(frames)
            self.chunk_ms.append(1000 * (time.perf_counter() - t0))
            return out
        agent.executor.predict = timed

    def reset(self) -> None:
        """Reset the wrapped agent."""
        self.agent.reset()

    def act(self, features):
        """The wrapped agent's action."""
        return self.agent.act(features)


def test_policy(agent: DiffusionAgent, data: DemoDataset, study: Study, episodes: int) -> dict:
    """Held-out episodes of one policy: success, coverage, goals, ms per chunk."""
    env = envs.make(study.env_id, **data.env_kwargs)
    timed, outcome = TimedAgent(agent), Outcome()
    t0 = time.perf_counter()
    try:
        summary = evaluate(env, timed, evaluation_seeds(episodes), progress=None, callbacks=[outcome])
    finally:
        env.close()
    cell = {"successes": round(summary.success_rate * summary.episodes), "episodes": summary.episodes,
            "success_rate": summary.success_rate, "mean_length": summary.mean_length,
            "chunk_ms_median": float(np.median(timed.chunk_ms)), "chunks": len(timed.chunk_ms),
            "actions_per_second": 1000 * agent.config.action_steps / float(np.median(timed.chunk_ms)),
            "eval_seconds": round(time.perf_counter() - t0, 1)}
    if outcome.coverage:
        cell.update(coverage=float(np.mean(outcome.coverage)),
                    max_coverage=float(np.mean(outcome.max_coverage)),
                    coverages=outcome.coverage)
    if outcome.goals and "ReachTwoGoals" in study.env_id:
        cell.update(left_goal_share=outcome.goals.count("left") / len(outcome.goals))
    return cell


def train(ds: DiffusionStudy, data: DemoDataset, options: dict, seed: int, run_dir: Path,
          steps: int) -> tuple:
    """One policy with its checkpoints (oldest first) and the training time."""
    every = max(1, steps // ds.checkpoints)
    config = make_config("diffusion", {**options, "steps": steps, "checkpoint_every": every, "seed": seed})
    t0 = time.perf_counter()
    source = TrainingSource.from_dataset(data, progress=False, run_dir=run_dir, resume=True)
    find_method("diffusion").fit(config, source)  # an interrupted seed continues from its train_state.pt
    return checkpoints(run_dir), round(time.perf_counter() - t0, 1)


def checkpoints(run_dir: Path) -> list[Path]:
    """The checkpoints a training run saved, oldest first."""
    return sorted((run_dir / "checkpoints").glob("step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))


def score(per_ckpt: list[dict], key: str) -> dict:
    """Max over checkpoints and mean of the last three (as the Diffusion Policy paper reports)."""
    values = [c[key] for c in per_ckpt]
    return {f"{key}_max": max(values), f"{key}_last3": float(np.mean(values[-3:]))}


def run_checkpoints(ds: DiffusionStudy, data: DemoDataset, seeds: list[int], root: Path, steps: int,
                    episodes: int) -> list[dict]:
    """Per seed: train, test every checkpoint."""
    cells = []
    for seed in seeds:
        run_dir = root / f"seed_{seed}"
        if (run_dir / "checkpoints" / f"step_{steps}.pt").exists():  # trained by an earlier, interrupted run
            paths = checkpoints(run_dir)
            train_s = json.loads((run_dir / "train.json").read_text())["seconds"] \
                if (run_dir / "train.json").exists() else None
        else:
            paths, train_s = train(ds, data, ds.options, seed, run_dir, steps)
            atomic_write_text(run_dir / "train.json", json.dumps({"seconds": train_s}))
        per_ckpt = []
        for p in paths:
            per_ckpt.append({"step": int(p.stem.split("_")[1]),
                             **test_policy(load_agent(p), data, ds.study, episodes)})
            last = per_ckpt[-1]
            cov = f", coverage {last['coverage']:.2f}" if "coverage" in last else ""
            print(f"  seed {seed} {p.stem}: {last['success_rate']:.0%}{cov}", flush=True)
        best = max(per_ckpt, key=lambda c: c["success_rate"])
        cell = {"seed": seed, "train_seconds": train_s, "checkpoints": [_strip(c) for c in per_ckpt],
                **score(per_ckpt, "success_rate"), "final": _strip(per_ckpt[-1]),
                "successes": best["successes"], "episodes": best["episodes"]}
        if "coverage" in per_ckpt[-1]:
            cell.update(score(per_ckpt, "coverage"))
        cells.append(cell)
    return cells


def run_samplers(ds: DiffusionStudy, data: DemoDataset, finals: dict[int, Path], episodes: int) -> dict:
    """Each sampler (acting options) on every seed's final policy: success and ms per chunk."""
    rows = {}
    for label, acting in ds.samplers.items():
        cells = []
        for seed, path in finals.items():
            trained = load_agent(path)
            agent = DiffusionAgent(trained.model, replace(trained.config, **acting), trained.meta)
            cells.append({"seed": seed, **test_policy(agent, data, ds.study, episodes)})
        rows[label] = {"cells": [_strip(c) for c in cells], "pooled": pooled_success(cells),
                       "chunk_ms": float(np.median([c["chunk_ms_median"] for c in cells])),
                       "actions_per_second": float(np.median([c["actions_per_second"] for c in cells]))}
        r = rows[label]
        print(f"  {label}: {r['pooled']['success_rate']:.1%}, {r['chunk_ms']:.1f} ms/chunk", flush=True)
    return rows


def mode_scatter(path: Path, data: DemoDataset, study: Study, samples: int = 200) -> list[list[float]]:
    """First actions of ``samples`` chunks sampled for the first held-out start observation."""
    agent = load_agent(path)
    env = envs.make(study.env_id, **data.env_kwargs)
    obs, _ = env.reset(seed=evaluation_seeds(1)[0])
    env.close()
    firsts = []
    for _ in range(samples):
        agent.reset()
        firsts.append([float(x) for x in agent.act(obs)])
    return firsts


def pooled_coverage(cells: list[dict], key: str) -> dict:
    """Mean over seeds of each seed's score, and the per-seed spread."""
    values = [c[key] for c in cells]
    half = 1.96 * float(np.std(values, ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return {"mean": float(np.mean(values)), "ci95_halfwidth_over_seeds": half, "per_seed": values}


def to_markdown(result: dict) -> str:
    """The checkpoint studies, then the sampler table."""
    lines = ["| study | demos | seeds | success, max over ckpts | success, mean of last 3 | 95% CI (max) "
             "| final coverage, max / last 3 | train s/seed | goal |",
             "|---|---:|---:|---:|---:|---|---|---:|---|"]
    for name, r in result.get("studies", {}).items():
        cells = r["cells"]
        pooled = pooled_success([{"successes": round(c["success_rate_max"] * c["episodes"]),
                                  "episodes": c["episodes"]} for c in cells])
        last3 = np.mean([c["success_rate_last3"] for c in cells])
        cov = "-"
        if "coverage_max" in cells[0]:
            cov = (f"{np.mean([c['coverage_max'] for c in cells]):.3f} / "
                   f"{np.mean([c['coverage_last3'] for c in cells]):.3f}")
        lo, hi = pooled["success_ci95"]
        lines.append(f"| {name} | {r['demos']} | {len(cells)} | {pooled['success_rate']:.1%} | {last3:.1%} | "
                     f"{lo:.1%}-{hi:.1%} | {cov} | {_mean_seconds(cells)} | "
                     f"{r['goal']} |")
    if result.get("samplers"):
        lines += ["", "| sampler (PushCube, equal training) | success | 95% CI | per seed | ms per chunk "
                  "(median) | actions/s |", "|---|---:|---|---|---:|---:|"]
        for label, r in result["samplers"].items():
            p = r["pooled"]
            per_seed = ", ".join(f"{c['success_rate']:.0%}" for c in r["cells"])
            lines.append(f"| {label} | {p['success_rate']:.1%} | {p['success_ci95'][0]:.1%}-"
                         f"{p['success_ci95'][1]:.1%} | {per_seed} | {r['chunk_ms']:.1f} | "
                         f"{r['actions_per_second']:.0f} |")
    return "\n".join(lines) + "\n"


def plot(result: dict, out: Path) -> None:
    """Success per checkpoint per seed, the sampler trade-off, and ReachTwoGoals' sampled modes."""
    studies = result.get("studies", {})
    if studies:
        fig, axes = plt.subplots(1, len(studies), figsize=(4 * len(studies), 3.2), squeeze=False)
        for ax, (name, r) in zip(axes[0], studies.items(), strict=True):
            key = "coverage" if "coverage_max" in r["cells"][0] else "success_rate"
            for c in r["cells"]:
                ax.plot([k["step"] for k in c["checkpoints"]], [k[key] for k in c["checkpoints"]], "o-",
                        label=f"seed {c['seed']}")
            ax.set(title=name, xlabel="gradient steps", ylabel=key.replace("_", " "), ylim=(0, 1.02))
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "diffusion_checkpoints.png", dpi=120)
    if result.get("samplers"):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for label, r in result["samplers"].items():
            p = r["pooled"]
            lo, hi = p["success_ci95"]
            err = [[p["success_rate"] - lo], [hi - p["success_rate"]]]
            ax.errorbar(r["chunk_ms"], p["success_rate"], yerr=err, fmt="o", capsize=3,
                        color="C0" if label.startswith("flow") else "C1")
            ax.annotate(label, (r["chunk_ms"], p["success_rate"]), fontsize=7, xytext=(4, 4),
                        textcoords="offset points")
        ax.axvline(5, color="grey", ls="--", lw=0.8)
        ax.set(xscale="log", xlabel="ms per chunk (median, 1 thread)", ylabel="PushCube success",
               title="Samplers: success vs latency (95% CI)")
        fig.tight_layout()
        fig.savefig(out / "diffusion_samplers.png", dpi=120)
    modes = studies.get("two_goals", {}).get("sampled_first_actions")
    if modes:
        a = np.array(modes)
        fig, ax = plt.subplots(figsize=(4.2, 3.6))
        ax.scatter(a[:, 1], a[:, 0], s=10, alpha=0.6)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set(xlabel="first action, y (toward left goal +)", ylabel="first action, x",
               title="ReachTwoGoals: 200 chunks sampled\nfor one start observation")
        fig.tight_layout()
        fig.savefig(out / "diffusion_two_goals_modes.png", dpi=120)


def _mean_seconds(cells: list[dict]) -> str:
    """Mean training time of the seeds that were timed."""
    timed = [c["train_seconds"] for c in cells if c.get("train_seconds") is not None]
    return f"{np.mean(timed):.0f}" if timed else "-"


def merge_cells(old: dict | None, new: dict) -> dict:
    """A study's entry with the seeds of ``new`` added to (or replacing) those of an equal earlier run."""
    same = old is not None and all(old.get(k) == new[k] for k in ("demos", "steps", "options", "episodes"))
    if not same:
        return new
    seeds = {c["seed"] for c in new["cells"]}
    kept = [c for c in old["cells"] if c["seed"] not in seeds]
    cells = sorted(kept + new["cells"], key=lambda c: c["seed"])
    if "coverage" in new:  # pooled over every seed, not only this run's
        new = {**new, "coverage": {k: pooled_coverage(cells, k) for k in ("coverage_max", "coverage_last3")}}
    return {**new, "cells": cells}


def _strip(c: dict) -> dict:
    return {k: v for k, v in c.items() if k != "coverages"}


def main() -> None:
    """Run the chosen studies; merge them into the results files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", nargs="+", default=list(STUDIES), choices=list(STUDIES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=50, help="held-out test episodes per policy")
    parser.add_argument("--steps", type=int, default=None, help="override every study's gradient steps")
    parser.add_argument("--quick", action="store_true", help="tiny data and training: checks the pipeline")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="keep checkpoints in <run-dir>/<study>/seed_N; a seed whose last checkpoint is "
                             "there is tested, not retrained, and an interrupted one continues from its "
                             "train_state.pt")
    parser.add_argument("--add-seeds", action="store_true",
                        help="merge these seeds into the study's earlier entry with the same settings "
                             "(seeds run in parallel processes)")
    parser.add_argument("--no-samplers", action="store_true", help="skip the sampler comparison")
    args = parser.parse_args()
    if args.quick and args.out == OUT:
        args.out = Path("runs/experiments/diffusion_quick")  # a pipeline check never overwrites results
    torch.set_num_threads(1)
    path = args.out / "diffusion.json"
    for name in args.studies:
        ds = STUDIES[name]
        demos, episodes, seeds = (4, 2, args.seeds[:1]) if args.quick else \
            (ds.study.demos, args.episodes, args.seeds)
        steps = 40 if args.quick else (args.steps or ds.steps)
        with TemporaryDirectory() as tmp:
            root = args.run_dir / name if args.run_dir else Path(tmp)
            t0 = time.perf_counter()
            data = make_dataset(Path(tmp) / "dataset", ds.study, demos)
            print(f"{name}: {demos} demos in {time.perf_counter() - t0:.0f} s", flush=True)
            info = {"env_id": ds.study.env_id, "demos": demos, "dart_noise": ds.study.noise, "steps": steps,
                    "options": ds.options, "goal": ds.goal, "episodes": episodes}
            update: dict = {}
            cells = run_checkpoints(ds, data, seeds, root, steps, episodes)
            entry = {**info, "cells": cells}
            finals = {seed: checkpoints(root / f"seed_{seed}")[-1] for seed in seeds}
            if ds.samplers and not args.no_samplers:
                update["samplers"] = run_samplers(ds, data, finals, episodes)
            if name == "two_goals":
                entry["sampled_first_actions"] = mode_scatter(finals[seeds[0]], data, ds.study)
            if "coverage_max" in cells[0]:
                entry["coverage"] = {k: pooled_coverage(cells, k) for k in ("coverage_max", "coverage_last3")}
            update["studies"] = {name: entry}
        # Re-read before writing: studies may run in parallel processes, each adding its own keys.
        result = json.loads(path.read_text()) if path.exists() else {}
        studies = result.get("studies", {})
        if args.add_seeds:
            update["studies"] = {name: merge_cells(studies.get(name), update["studies"][name])}
        result["studies"] = {**studies, **update.pop("studies", {})}
        result["samplers"] = {**result.get("samplers", {}), **update.pop("samplers", {})}
        result.update(eval_seeds_start=100_000)
        args.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(result, indent=2))
        atomic_write_text(args.out / "diffusion.md", to_markdown(result))
        plot(result, args.out)
    print(to_markdown(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
