r"""The renderer gap of the heatmap keypoints, both ways, and how much each remedy recovers.

    python scripts/experiments/renderer_gap.py --runs runs/train_perception \\
        --mujoco runs/perception_data/mj --pybullet runs/perception_data/pb

Expects six keypoint runs of ``scripts/train_perception.py task=keypoints`` under ``--runs``
(docs/results.md gives the commands): ``kp_mj`` and ``kp_pb`` (plain, trained on one renderer's
scenes), ``kp_mj_dr`` and ``kp_pb_dr`` (trained on scenes rendered with ``randomization=sim2real``),
``kp_mj_adv`` and ``kp_pb_adv`` (domain-adversarial, ``adversarial.target=`` the other renderer's
unlabelled train images). A fourth remedy needs no training: AdaBN, the plain source model with
its batch-norm statistics re-estimated on the target's unlabelled train images
(``perception/domain_adaptation.py: adapt_batch_norm``). Every checkpoint is scored on both
renderers' held-out test scenes (nominal, no randomization). For source -> target, the *drop* is
how much worse the plain source model is on the target than the model trained on the target's
own labels (the ceiling), and a remedy *recovers* ``(remedy - plain) / (ceiling - plain)`` of it.
``--use kp_pb=kp_pb_s1`` takes another run dir for a role (e.g. another seed); ``--also <run>``
scores more runs into the json only (key ``also:<run>``). Writes docs/results/renderer_gap.{json,md}.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from dataset.atomic import atomic_write_text
from envs.cameras import CameraParams
from perception.domain_adaptation import adapt_batch_norm
from perception.keypoints import evaluate_keypoints, evaluate_lifting, load_keypoints

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
SHORT = {"mujoco": "mj", "pybullet": "pb"}
REMEDIES = {"none": "", "domain randomization": "_dr", "domain-adversarial": "_adv", "AdaBN": "+adabn"}
TRAINED = ("", "_dr", "_adv")


def scenes(folder: Path) -> tuple[dict[str, np.ndarray], CameraParams]:
    """A scene set's test split and its (nominal) camera."""
    with np.load(folder / "test.npz") as f:
        test = {k: f[k] for k in f.files}
    p = json.loads((folder / "meta.json").read_text())["camera_params"]
    params = CameraParams(np.asarray(p["intrinsics"]), np.asarray(p["extrinsics"]), p["width"], p["height"],
                          p["near"], p["far"])
    return test, params


def train_images(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """A scene set's unlabelled train images (rgb, depth)."""
    with np.load(folder / "train.npz") as f:
        return f["image_rgb"], f["image_depth"]


def score(checkpoint: Path, test: dict, params: CameraParams,
          adapt: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, float]:
    """PCK@1px, PCK@3px, mean pixel error and the mean lifted 3-D error (mm, over keypoint names).

    With ``adapt`` (rgb, depth), the model's batch norms first take those images' statistics.
    """
    model, _ = load_keypoints(str(checkpoint))
    if adapt is not None:
        adapt_batch_norm(model, *adapt)
    m = evaluate_keypoints(model, test)
    lifted = evaluate_lifting(model, test, params)
    return {"pck@1px": m["pck@1px"], "pck@3px": m["pck@3px"], "mean_error_px": m["mean_error_px"],
            "lifted_mm": float(np.mean(list(lifted.values()))) * 1000,
            "lifted_mm_by_name": {k: v * 1000 for k, v in lifted.items()}}


def recovered(remedy: float, plain: float, ceiling: float) -> float:
    """Percent of the drop (ceiling - plain) that the remedy closes (negative: it widened the gap)."""
    return 100.0 * (remedy - plain) / (ceiling - plain)


def main() -> None:
    """Score every checkpoint on both renderers and write the table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--mujoco", type=Path, required=True, help="MuJoCo scene folder (test split)")
    parser.add_argument("--pybullet", type=Path, required=True, help="PyBullet scene folder (test split)")
    parser.add_argument("--use", action="append", default=[], metavar="ROLE=RUN",
                        help="run dir under --runs for a role (kp_mj, kp_pb_dr, ...)")
    parser.add_argument("--also", action="append", default=[], metavar="RUN", help="score into the json too")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    use = dict(item.split("=", 1) for item in args.use)
    torch.set_num_threads(1)
    data = {"mujoco": scenes(args.mujoco), "pybullet": scenes(args.pybullet)}
    scores: dict[str, dict[str, dict]] = {}
    roles = [f"kp_{SHORT[source]}{suffix}" for source in SHORT for suffix in TRAINED]
    jobs = [(role, use.get(role, role)) for role in roles] + [(f"also:{run}", run) for run in args.also]
    for key, run in jobs:
        checkpoint = args.runs / run / "checkpoint.pt"
        scores[key] = {"run": run, **{on: score(checkpoint, *data[on]) for on in data}}
        print(key, run, {on: round(scores[key][on]["pck@1px"], 3) for on in data})
    folders = {"mujoco": args.mujoco, "pybullet": args.pybullet}
    for source, target in (("mujoco", "pybullet"), ("pybullet", "mujoco")):
        plain = f"kp_{SHORT[source]}"
        run = scores[plain]["run"]
        adapt = train_images(folders[target])
        scores[f"{plain}+adabn"] = {"run": f"{run} + AdaBN", **{
            on: score(args.runs / run / "checkpoint.pt", *data[on], adapt=adapt) for on in data}}
    rows = []
    for source, target in (("mujoco", "pybullet"), ("pybullet", "mujoco")):
        plain = scores[f"kp_{SHORT[source]}"][target]
        ceiling = scores[f"kp_{SHORT[target]}"][target]
        for remedy, suffix in REMEDIES.items():
            s = scores[f"kp_{SHORT[source]}{suffix}"]
            rows.append({"source": source, "target": target, "remedy": remedy, "run": s["run"],
                         "on_source": s[source],
                         "on_target": s[target], "ceiling": ceiling,
                         "recovered_pck1_pct": None if remedy == "none" else
                         recovered(s[target]["pck@1px"], plain["pck@1px"], ceiling["pck@1px"]),
                         "recovered_lifted_pct": None if remedy == "none" else
                         recovered(s[target]["lifted_mm"], plain["lifted_mm"], ceiling["lifted_mm"])})
    args.results.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.results / "renderer_gap.json",
                      json.dumps({"scores": scores, "rows": rows}, indent=1) + "\n")
    pct = lambda v: "" if v is None else f"{v:+.0f}%"  # noqa: E731
    lines = ["| source -> target | remedy (run) | PCK@1px on source | PCK@1px on target (ceiling) "
             "| recovered | 3-D error on target, mm (ceiling) | recovered |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['source']} -> {r['target']} | {r['remedy']} ({r['run']}) | "
                     f"{r['on_source']['pck@1px']:.3f} | "
                     f"{r['on_target']['pck@1px']:.3f} ({r['ceiling']['pck@1px']:.3f}) | "
                     f"{pct(r['recovered_pck1_pct'])} | {r['on_target']['lifted_mm']:.1f} "
                     f"({r['ceiling']['lifted_mm']:.1f}) | {pct(r['recovered_lifted_pct'])} |")
    atomic_write_text(args.results / "renderer_gap.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
