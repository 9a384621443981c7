"""BC on PushCube: success vs number of demonstrations, over training seeds, with and without DART.

    python scripts/experiments/bc_push_cube.py            # ~15 min on 2 CPU cores
    python scripts/experiments/bc_push_cube.py --quick    # minutes, for checking the pipeline

Every policy is evaluated on the same held-out seeds (100000+), disjoint from the demo seeds
(0..N-1). Writes docs/results/bc_push_cube.{json,md,png}.
"""

import argparse
import json
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import gymnasium as gym
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import envs  # noqa: E402,F401
from agents import TrainingSource  # noqa: E402
from agents.bc import BCAgent, BCConfig  # noqa: E402
from agents.experts import PushCubeExpert  # noqa: E402
from dataset import DatasetWriter, DemoDataset, atomic_write_text  # noqa: E402
from loop import evaluate  # noqa: E402
from loop.collect import collect  # noqa: E402
from loop.evaluation import evaluation_seeds, pooled_success  # noqa: E402
from loop.relabel import Relabelled  # noqa: E402

ENV_ID = "roboloop/PushCube-v0"
OUT = Path(__file__).resolve().parents[2] / "docs" / "results"


def make_dataset(root: Path, demos: int, noise: float) -> DemoDataset:
    """Expert demos on seeds 0..demos-1, executed with ``noise`` and labelled with clean actions."""
    writer = DatasetWriter(root, env_id=ENV_ID, env_kwargs={}, fps=20)
    collect(gym.make(ENV_ID), Relabelled(PushCubeExpert(), noise_std=noise), range(demos), writer,
            progress=None)
    return DemoDataset(root)


def run_cell(data: DemoDataset, seed: int, steps: int, eval_episodes: int) -> dict:
    """Train one BC policy and evaluate it on the held-out seeds."""
    t0 = time.perf_counter()
    agent = BCAgent.fit(BCConfig(seed=seed, steps=steps), TrainingSource.from_dataset(data, progress=False))
    train_s = time.perf_counter() - t0
    summary = evaluate(gym.make(ENV_ID), agent, evaluation_seeds(eval_episodes), progress=None)
    return {"seed": seed, "successes": round(summary.success_rate * summary.episodes),
            "episodes": summary.episodes, "success_rate": summary.success_rate,
            "success_ci95": summary.success_ci95, "train_seconds": round(train_s, 1)}


def plot(rows: list[dict], path: Path) -> None:
    """Success vs demos, one line per noise setting, seeds as dots, pooled 95% CI as bars."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for noise in sorted({r["noise"] for r in rows}):
        sel = [r for r in rows if r["noise"] == noise]
        x = [r["demos"] for r in sel]
        y = [r["pooled"]["success_rate"] for r in sel]
        err = [[yi - r["pooled"]["success_ci95"][0] for yi, r in zip(y, sel, strict=True)],
               [r["pooled"]["success_ci95"][1] - yi for yi, r in zip(y, sel, strict=True)]]
        label = f"DART noise {noise}" if noise else "clean demos"
        ax.errorbar(x, y, yerr=err, marker="o", capsize=4, label=label)
        for r in sel:
            ax.scatter([r["demos"]] * len(r["cells"]), [c["success_rate"] for c in r["cells"]],
                       s=12, alpha=0.5, color=ax.lines[-1].get_color())
    ax.axhline(0.8, ls="--", color="grey", lw=1, label="target 80%")
    ax.set(xlabel="expert demonstrations", ylabel="held-out success rate", ylim=(0, 1.02),
           title="BC on PushCube-v0 (MuJoCo, state obs)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def to_markdown(rows: list[dict]) -> str:
    """Results table."""
    lines = ["| demos | demo noise | seeds | success (pooled) | 95% CI | per-seed |",
             "|---:|---:|---:|---:|---|---|"]
    for r in rows:
        p = r["pooled"]
        per_seed = ", ".join(f"{c['success_rate']:.0%}" for c in r["cells"])
        lines.append(f"| {r['demos']} | {r['noise']} | {len(r['cells'])} | {p['success_rate']:.1%} | "
                     f"{p['success_ci95'][0]:.1%}-{p['success_ci95'][1]:.1%} | {per_seed} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the grid and write JSON, Markdown and PNG."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny grid to check the pipeline")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    grid = [(25, 0.6), (50, 0.6), (100, 0.6), (100, 0.0)]
    seeds, steps, episodes = (0, 1, 2), 10_000, 100
    if args.quick:
        grid, seeds, steps, episodes = [(10, 0.6)], (0,), 300, 5
    rows = []
    with TemporaryDirectory() as tmp:
        for demos, noise in grid:
            data = make_dataset(Path(tmp) / f"d{demos}_{noise}", demos, noise)
            cells = [run_cell(data, s, steps, episodes) for s in seeds]
            rows.append({"demos": demos, "noise": noise, "cells": cells, "pooled": pooled_success(cells)})
            print(to_markdown(rows[-1:]).splitlines()[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    config = {"env_id": ENV_ID, "bc": vars(BCConfig(steps=steps)), "eval_seeds_start": 100_000,
              "eval_episodes": episodes, "training_seeds": list(seeds)}
    atomic_write_text(args.out / "bc_push_cube.json", json.dumps({"config": config, "rows": rows}, indent=2))
    atomic_write_text(args.out / "bc_push_cube.md", to_markdown(rows))
    plot(rows, args.out / "bc_push_cube.png")
    print(to_markdown(rows))


if __name__ == "__main__":
    main()
