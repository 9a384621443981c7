"""Sample efficiency: MPC over a learned ensemble vs SAC, env steps to 90% held-out success, 3 seeds.

    python scripts/experiments/model_based.py                    # Reach: MPC + SAC, seeds 0 1 2
    python scripts/experiments/model_based.py --cells mpc_push_cube --seeds 0
    python scripts/experiments/model_based.py --cells mpc_push_cube_icem --seeds 1  # seeds run in parallel
    python scripts/experiments/model_based.py --quick            # a minute or two: checks the pipeline
    python scripts/experiments/model_based.py --cells mpc_push_cube_icem --resume --total-steps 15000
    python scripts/experiments/model_based.py --cells mpc_push_cube_keypoints --keypoints <keypoints.pt>

Both methods train through ``agents`` (the Learner interface scripts/train.py uses) and are
validated on the same held-out validation seeds (90000+, never trained on) every ``eval_every``
env steps, 10 episodes a point; "steps to 90%" is the first validation point at or above 90%.
The final agents are then tested on ``--test-episodes`` evaluation seeds (100000+), pooled over
seeds with a Wilson 95% interval. Writes docs/results/model_based.{json,md} and
model_based_curves.png (merging with earlier cells, and with a cell's other seeds); each run's
checkpoints go to --runs.
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

import envs  # noqa: E402,F401
from agents import TrainingSource, find_method, make_config  # noqa: E402
from dataset import atomic_write_text  # noqa: E402
from envs.errors import ConfigError  # noqa: E402
from perception import make_perception  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from online_results import per_seed, pooled, test_figures  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "results"
RUNS = ROOT / "runs" / "experiments" / "model_based"
# the PushCube keypoint model representation.py trains (600 steps on 1,243 top-camera frames)
KEYPOINTS = ROOT / "runs" / "experiments" / "representation" / "icem_pixel_steps_2000" / "keypoints.pt"
REACH, PUSH_CUBE = "roboloop/Reach-v0", "roboloop/PushCube-v0"
PLANNER = {"method": "cem", "horizon": 10, "samples": 200, "iterations": 3, "elites": 20}


@dataclass(frozen=True)
class Cell:
    """One row: a method on an env, with config overrides."""

    name: str
    method: str
    env_id: str
    options: dict = field(default_factory=dict)
    env_kwargs: dict = field(default_factory=lambda: {"backend": "mujoco", "obs_mode": "state"})
    perception: str | None = None  # "keypoints": KeypointPerception of --keypoints in the loop


CELLS = [
    Cell("mpc_reach", "mpc", REACH, {"total_steps": 600, "explore_steps": 100, "fit_every": 100,
                                     "eval_every": 100, "planner": PLANNER,
                                     "world_model": {"propagation": "all", "nll_beta": 0.0}}),
    Cell("mpc_reach_one_member", "mpc", REACH, {  # the benchmark's planner: 20+ plans/s on 2 cores
        "total_steps": 600, "explore_steps": 100, "fit_every": 100, "eval_every": 100,
        "world_model": {"propagation": "one", "nll_beta": 0.0},
        "planner": {"method": "cem", "horizon": 15, "samples": 500, "iterations": 3, "elites": 50}}),
    Cell("mpc_reach_icem_beta_nll", "mpc", REACH, {  # PushCube's recipe on Reach
        "total_steps": 600, "explore_steps": 100, "fit_every": 100, "eval_every": 100,
        "world_model": {"propagation": "one", "nll_beta": 0.5},
        "planner": {"method": "icem", "horizon": 15, "samples": 500, "iterations": 3, "elites": 50}}),
    Cell("sac_reach", "sac", REACH, {"total_steps": 10_000, "eval_every": 1000}),
    Cell("mpc_push_cube", "mpc", PUSH_CUBE, {
        "total_steps": 6000, "explore_steps": 300, "fit_every": 300, "eval_every": 1000,
        "world_model": {"hidden": [128, 128], "propagation": "one", "nll_beta": 0.0},
        "planner": {"method": "cem", "horizon": 15, "samples": 500, "iterations": 3, "elites": 50}}),
    Cell("mpc_push_cube_icem", "mpc", PUSH_CUBE, {  # iCEM solves PushCube over the simulator (cem: 30%)
        "total_steps": 12_000, "explore_steps": 300, "fit_every": 300, "eval_every": 1000,
        # beta-NLL: plain NLL left the cube's motion no better predicted than "it stays put"
        "world_model": {"hidden": [128, 128], "propagation": "one", "nll_beta": 0.5},
        "planner": {"method": "icem", "horizon": 15, "samples": 500, "iterations": 3, "elites": 50}}),
    Cell("mpc_push_cube_keypoints", "mpc", PUSH_CUBE, {  # the same, planned over keypoints seen in images
        "state": "keypoints", "total_steps": 12_000, "explore_steps": 300, "fit_every": 300,
        "eval_every": 1000,
        "world_model": {"hidden": [128, 128], "propagation": "one", "nll_beta": 0.5},
        "planner": {"method": "icem", "horizon": 15, "samples": 500, "iterations": 3, "elites": 50}},
        env_kwargs={"backend": "mujoco", "obs_mode": "rgb+depth", "cameras": ["top"]},
        perception="keypoints"),
    Cell("sac_push_cube", "sac", PUSH_CUBE, {"total_steps": 20_000, "eval_every": 2000}),
]


def run_cell(cell: Cell, seed: int, runs: Path, test_episodes: int, quick: bool, resume: bool = False,
             total_steps: int | None = None, keypoints: Path | None = None) -> dict:
    """Train one seed (validation curve on the way), then test it on held-out evaluation seeds.

    ``resume`` continues the seed's interrupted (or finished) run from its ``last.pt``, up to
    ``total_steps`` when given (a longer budget than the cell's).
    """
    started = time.perf_counter()
    run_dir = runs / cell.name / f"seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    options = {**cell.options, "seed": seed, "eval_episodes": 10}
    if cell.method == "mpc":
        options["world_model"] = {**options.get("world_model", {}), "seed": seed}
    if quick:
        options.update(total_steps=2 * options["eval_every"] // (10 if cell.method == "sac" else 1),
                       eval_every=options["eval_every"] // (10 if cell.method == "sac" else 1),
                       eval_episodes=2)
        if cell.method == "sac":
            options["learning_starts"] = 50
    if total_steps is not None:
        options["total_steps"] = total_steps
    perception = None
    if cell.perception is not None:
        if keypoints is None or not Path(keypoints).is_file():
            raise ConfigError(f"cell {cell.name} plans over keypoints: pass --keypoints <checkpoint.pt> of a "
                              "PushCube keypoint model (scripts/experiments/representation.py trains one)")
        perception = make_perception({"name": cell.perception, "checkpoint": str(keypoints)})
    source = TrainingSource(cell.env_id, dict(cell.env_kwargs), perception=perception, progress=False,
                            run_dir=run_dir, resume=resume)
    agent = find_method(cell.method).fit(make_config(cell.method, options), source)
    train_s = time.perf_counter() - started
    curve = json.loads((run_dir / "learning_curve.json").read_text())
    if resume:  # the whole run's training time, the interrupted part included
        train_s = curve[-1]["seconds"]
    return {"seed": seed, "train_seconds": round(train_s, 1), "env_steps": curve[-1]["step"],
            **test_figures(cell.env_id, cell.env_kwargs, agent, curve, test_episodes, perception)}


def summarize(cell: Cell, runs: list[dict]) -> dict:
    """Pooled test success (Wilson 95%) and per-seed figures."""
    return {"cell": cell.name, "method": cell.method, "env_id": cell.env_id, "env_kwargs": cell.env_kwargs,
            "options": cell.options, "runs": runs, **pooled(runs)}


def to_markdown(rows: list[dict]) -> str:
    """One table: a line per cell, seeds side by side."""
    lines = ["| cell | env steps to 90% validation success, per seed | env steps trained | "
             "test success per seed | pooled test success (95% CI) | train time per seed (s) |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        runs, (lo, hi) = row["runs"], row["pooled_success_ci95"]
        reach = per_seed(runs, "validation_90_step", ",", missing="not reached")
        trained = per_seed(runs, "env_steps", ",")
        success, seconds = per_seed(runs, "test_success", ".0%"), per_seed(runs, "train_seconds", ".0f")
        lines.append(f"| {row['cell']} | {reach} | {trained} | {success} "
                     f"| {row['pooled_success']:.1%} ({lo:.1%}-{hi:.1%}) | {seconds} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """Validation success vs env steps (log scale), one panel per env, a line per cell and seed."""
    env_ids = sorted({r["env_id"] for r in rows})
    fig, axes = plt.subplots(1, len(env_ids), figsize=(6 * len(env_ids), 3.2), squeeze=False)
    for ax, env_id in zip(axes[0], env_ids, strict=True):
        for k, row in enumerate(r for r in rows if r["env_id"] == env_id):
            color = f"C{k}"
            for i, run in enumerate(row["runs"]):
                steps = [p["step"] for p in run["curve"]]
                ax.plot(steps, [p["success_rate"] for p in run["curve"]], marker=".", color=color, alpha=0.8,
                        label=row["cell"] if i == 0 else None)
        ax.axhline(0.9, color="grey", lw=0.8, ls="--")
        ax.set(xscale="log", title=f"{env_id} (validation, 10 episodes a point)", xlabel="env steps",
               ylabel="success", ylim=(-0.02, 1.02))
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    """Run the chosen cells and seeds; merge with earlier results for other cells."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="*", default=["mpc_reach", "sac_reach"],
                        choices=[c.name for c in CELLS])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--test-episodes", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks the pipeline only")
    parser.add_argument("--out", type=Path, default=OUT, help="where model_based.{json,md} and the plot go")
    parser.add_argument("--runs", type=Path, default=RUNS, help="where each run's checkpoints go")
    parser.add_argument("--resume", action="store_true", help="continue each seed from its last.pt")
    parser.add_argument("--total-steps", type=int, default=None,
                        help="env steps to train to, instead of the cell's (with --resume: extend a run)")
    parser.add_argument("--keypoints", type=Path, default=KEYPOINTS,
                        help="the keypoint model (checkpoint.pt) of cells that plan over keypoints")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "model_based.json"

    def load() -> dict[str, dict]:
        return {r["cell"]: r for r in json.loads(results_path.read_text())} if results_path.is_file() else {}

    previous = load()
    for cell in [c for c in CELLS if c.name in args.cells]:
        runs = []
        for seed in args.seeds:
            runs.append(run_cell(cell, seed, args.runs, 3 if args.quick else args.test_episodes, args.quick,
                                 args.resume, args.total_steps, args.keypoints))
            print(cell.name, {k: v for k, v in runs[-1].items() if k != "curve"}, flush=True)
        # Re-read: seeds of one cell may run in parallel processes; keep the other seeds' runs.
        previous = load()
        others = [r for r in previous.get(cell.name, {}).get("runs", []) if r["seed"] not in args.seeds]
        previous[cell.name] = summarize(cell, sorted(others + runs, key=lambda r: r["seed"]))
        rows = [previous[c.name] for c in CELLS if c.name in previous]
        atomic_write_text(results_path, json.dumps(rows, indent=1) + "\n")
        atomic_write_text(args.out / "model_based.md", to_markdown(rows))
        plot(rows, args.out / "model_based_curves.png")
    print(to_markdown([previous[c.name] for c in CELLS if c.name in previous]))


if __name__ == "__main__":
    main()
