"""Closing the loop: BC on PushCube from perception outputs alone vs BC from the privileged state.

    python scripts/experiments/perception_loop.py --checkpoint runs/train_perception/<run>/checkpoint.pt
    python scripts/experiments/perception_loop.py --checkpoint <ckpt> --quick   # minutes, a pipeline check
    python scripts/experiments/perception_loop.py --keypoints <ckpt> --arms keypoints --merge  # add an arm
    python scripts/experiments/perception_loop.py --detector <ckpt> --arms detector pixels --merge

Expert demonstrations (DART noise 0.6, seeds 0..demos-1, MuJoCo) are recorded through
``PerceptionWrapper``: every stored observation holds the features of the perception modules the
chosen arms need (PointNet on the top and front point clouds: ``cube_centroid``, ``goal_centroid``;
keypoints from the top camera's rgb + depth: ``cube_top_keypoint``, ``goal_keypoint``; the
detector on the same camera: ``boxes`` and ``box_scores`` per class) beside ``proprio`` and the
privileged ``state`` the expert labels with (the noise is seeded, so every run records the same
trajectories); the raw-pixel arm records the top camera's ``top_rgb`` itself. From the same
demonstrations BC is trained per arm and seed on that arm's keys (the raw-pixel arm through BC's
spatial-softmax CNN, in batches of 64 where the vector arms use 256), and every arm is evaluated
on the same held-out seeds (100000+); a perception arm sees the env only through its module passed
to the loop, the raw-pixel arm only through the camera and proprio (no ``state`` in either).
``--merge`` replaces the chosen arms' rows in an existing result and keeps the others. Writes
docs/results/perception_loop.{json,md,png}.
"""

import argparse
import json
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import gymnasium as gym
import matplotlib
import torch

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
from perception.compose import Compose  # noqa: E402
from perception.detector import DetectorPerception  # noqa: E402
from perception.keypoints import KeypointPerception  # noqa: E402
from perception.pointnet_perception import PointNetPerception  # noqa: E402
from perception.wrapper import PerceptionWrapper  # noqa: E402

ENV_ID = "roboloop/PushCube-v0"
OUT = Path(__file__).resolve().parents[2] / "docs" / "results"
SENSORS = {"pointnet": ({"rgb", "pointcloud"}, {"top", "front"}), "keypoints": ({"rgb", "depth"}, {"top"}),
           "detector": ({"rgb", "depth"}, {"top"}), "pixels": ({"rgb"}, {"top"})}
MODULES = {"pointnet": PointNetPerception, "keypoints": KeypointPerception, "detector": DetectorPerception}
RAW_KEYS = {"pixels": ["top_rgb"]}  # what the arms without a module read from the env itself
BATCH = {"pixels": 64}  # BC batch per arm where it differs from BCConfig's (images cost ~50 ms a batch of 64)
ARMS = {  # short name -> (row label, BC obs_keys, the sensors it needs: a module in MODULES or raw keys)
    "state": ("privileged state", ["state"], None),
    "pointnet": ("PointNet centroids + proprio", ["cube_centroid", "goal_centroid", "proprio"], "pointnet"),
    "keypoints": ("keypoints (cube top, goal) + proprio", ["cube_top_keypoint", "goal_keypoint", "proprio"],
                  "keypoints"),
    "detector": ("detector boxes + proprio", ["boxes", "box_scores", "proprio"], "detector"),
    "pixels": ("raw pixels (top rgb) + proprio", ["top_rgb", "proprio"], "pixels"),
}


def env_kwargs(kinds: set[str]) -> dict:
    """The sensors and cameras the perception modules ``kinds`` need (the state env without any)."""
    if not kinds:
        return {}
    sensors = set().union(*(SENSORS[k][0] for k in kinds))
    cameras = set().union(*(SENSORS[k][1] for k in kinds))
    return {"obs_mode": "+".join(sorted(sensors)), "cameras": sorted(cameras, key=["top", "front"].index)}


def make_module(kind: str | None, checkpoints: dict[str, str]):
    """The perception module ``kind`` from its checkpoint (None for the state and raw-pixel arms)."""
    return MODULES[kind](checkpoints[kind]) if kind in MODULES else None


def make_dataset(root: Path, checkpoints: dict[str, str], kinds: set[str], demos: int,
                 noise: float) -> DemoDataset:
    """Expert demos recorded as the features of ``kinds`` (+ proprio, + state for the expert's labels)."""
    kwargs = env_kwargs(kinds)
    env = gym.make(ENV_ID, privileged_state=True, **kwargs)
    modules = sorted(kinds & set(MODULES))
    if modules:
        raw = ["state", *[key for k in sorted(kinds) for key in RAW_KEYS.get(k, [])]]
        env = PerceptionWrapper(env, Compose([make_module(k, checkpoints) for k in modules]), passthrough=raw)
    writer = DatasetWriter(root, env_id=ENV_ID, env_kwargs=kwargs, fps=20)
    collect(env, Relabelled(PushCubeExpert(), noise_std=noise), range(demos), writer, progress="collect",
            extra={"features": f"PerceptionWrapper of {sorted(kinds)}: {checkpoints}"})
    env.close()
    return DemoDataset(root)


def run_cell(data: DemoDataset, arm: str, checkpoints: dict[str, str], seed: int, steps: int,
             episodes: int) -> dict:
    """Train BC on one arm's keys and evaluate it on the held-out seeds."""
    _, keys, kind = ARMS[arm]
    t0 = time.perf_counter()
    batch = BATCH.get(arm, BCConfig.batch_size)
    agent = BCAgent.fit(BCConfig(obs_keys=keys, seed=seed, steps=steps, batch_size=batch),
                        TrainingSource.from_dataset(data, progress=False))
    train_s = time.perf_counter() - t0
    env = gym.make(ENV_ID, **env_kwargs({kind} if kind else set()))
    perception = make_module(kind, checkpoints)
    t0 = time.perf_counter()
    summary = evaluate(env, agent, evaluation_seeds(episodes), perception=perception, progress=None)
    eval_s = time.perf_counter() - t0
    env.close()
    steps_run = summary.mean_length * summary.episodes
    return {"seed": seed, "batch_size": batch, "successes": round(summary.success_rate * summary.episodes),
            "episodes": summary.episodes, "success_rate": summary.success_rate,
            "success_ci95": summary.success_ci95, "train_seconds": round(train_s, 1),
            "eval_ms_per_step": round(1000 * eval_s / steps_run, 2)}


def to_markdown(rows: list[dict]) -> str:
    """Results table, with each arm's success relative to the privileged-state agent (the first row)."""
    base = rows[0]["pooled"]["success_rate"]
    lines = ["| BC observes | seeds | success (pooled) | 95% CI | per-seed | relative to state "
             "| ms/step in eval |", "|---|---:|---:|---|---|---:|---:|"]
    for r in rows:
        p = r["pooled"]
        per_seed = ", ".join(f"{c['success_rate']:.0%}" for c in r["cells"])
        ms = sum(c["eval_ms_per_step"] for c in r["cells"]) / len(r["cells"])
        lines.append(f"| {r['arm']} | {len(r['cells'])} | {p['success_rate']:.1%} | "
                     f"{p['success_ci95'][0]:.1%}-{p['success_ci95'][1]:.1%} | {per_seed} | "
                     f"{p['success_rate'] / max(base, 1e-9):.1%} | {ms:.1f} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """Pooled success per arm with its 95% CI; seeds as dots."""
    fig, ax = plt.subplots(figsize=(2.4 * len(rows) + 1, 3.8))
    for i, r in enumerate(rows):
        p = r["pooled"]
        y, (lo, hi) = p["success_rate"], p["success_ci95"]
        ax.bar(i, y, color=f"C{i}", alpha=0.7)
        ax.errorbar(i, y, yerr=[[y - lo], [hi - y]], color="k", capsize=5)
        ax.scatter([i] * len(r["cells"]), [c["success_rate"] for c in r["cells"]], color="k", s=12, zorder=3)
    ax.axhline(0.9 * rows[0]["pooled"]["success_rate"], ls="--", color="grey", lw=1, label="90% of state")
    ax.set_xticks(range(len(rows)), [r["arm"].replace(" + ", "\n+ ") for r in rows])
    ax.set(ylabel="held-out success rate", ylim=(0, 1.02), title="BC on PushCube-v0: state vs perception")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    """Collect once, train and evaluate both arms over seeds, write JSON, Markdown and PNG."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", help="PointNet from scripts/train_perception.py (the pointnet arm)")
    parser.add_argument("--keypoints", help="keypoints from scripts/train_perception.py task=keypoints")
    parser.add_argument("--detector", help="detector from scripts/train_perception.py task=detector")
    parser.add_argument("--arms", nargs="+", choices=sorted(ARMS),
                        help="default: state and every arm with a checkpoint")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other arms' rows of an existing result")
    parser.add_argument("--quick", action="store_true", help="tiny run to check the pipeline")
    parser.add_argument("--replot", action="store_true", help="only redraw the table and plot from the JSON")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.replot:
        rows = json.loads((args.out / "perception_loop.json").read_text())["rows"]
        atomic_write_text(args.out / "perception_loop.md", to_markdown(rows))
        plot(rows, args.out / "perception_loop.png")
        return
    torch.set_num_threads(1)
    checkpoints = {k: v for k, v in (("pointnet", args.checkpoint), ("keypoints", args.keypoints),
                                     ("detector", args.detector)) if v}
    arms = args.arms or ["state", *[a for a in MODULES if a in checkpoints]]
    kinds = {ARMS[a][2] for a in arms if ARMS[a][2]}
    if (kinds & set(MODULES)) - set(checkpoints):
        parser.error(f"arms {arms} need checkpoints for {sorted((kinds & set(MODULES)) - set(checkpoints))}")
    demos, noise, seeds, steps, episodes = 100, 0.6, (0, 1, 2), 5000, 50
    if args.quick:
        demos, seeds, steps, episodes = 4, (0,), 200, 3
    rows = []
    with TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        data = make_dataset(Path(tmp) / "demos", checkpoints, kinds, demos, noise)
        collect_s = time.perf_counter() - t0
        print(f"collected {len(data)} demos ({data.num_frames} frames) in {collect_s:.0f} s", flush=True)
        for arm in arms:
            cells = [run_cell(data, arm, checkpoints, s, steps, episodes) for s in seeds]
            rows.append({"arm": ARMS[arm][0], "name": arm, "obs_keys": ARMS[arm][1], "cells": cells,
                         "pooled": pooled_success(cells), "collect_seconds": round(collect_s, 1)})
            print(to_markdown(rows).splitlines()[-1], flush=True)
    config = {"env_id": ENV_ID, "checkpoints": checkpoints, "demos": demos, "demo_noise": noise,
              "bc": {"steps": steps, "hidden_sizes": BCConfig().hidden_sizes,
                     "batch_size": BCConfig.batch_size, "batch_size_per_arm": BATCH},
              "training_seeds": list(seeds),
              "eval_seeds_start": 100_000, "eval_episodes": episodes}
    if args.quick:
        print(to_markdown(rows))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    if args.merge and (args.out / "perception_loop.json").exists():
        old = json.loads((args.out / "perception_loop.json").read_text())
        new = {r["arm"] for r in rows}
        rows = sorted([r for r in old["rows"] if r["arm"] not in new] + rows,
                      key=lambda r: [v[0] for v in ARMS.values()].index(r["arm"]))
        config = {**old["config"], **config, "checkpoints": {**old["config"].get("checkpoints", {}),
                                                             **checkpoints}}
    result = {"config": config, "rows": rows}
    atomic_write_text(args.out / "perception_loop.json", json.dumps(result, indent=2))
    atomic_write_text(args.out / "perception_loop.md", to_markdown(rows))
    plot(rows, args.out / "perception_loop.png")
    print(to_markdown(rows))


if __name__ == "__main__":
    main()
