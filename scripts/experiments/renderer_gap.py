r"""The renderer gap of the heatmap keypoints or the PointNet, both ways, and how much each remedy recovers.

    python scripts/experiments/renderer_gap.py --runs runs/train_perception \\
        --mujoco runs/perception_data/mj --pybullet runs/perception_data/pb
    python scripts/experiments/renderer_gap.py --model pointnet --runs runs/train_perception \\
        --mujoco runs/perception_data/pn_mj --pybullet runs/perception_data/pn_pb_full

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

``--model pointnet`` does the same for the PointNet (roles ``pn_mj``, ``pn_pb``, ``pn_*_dr``,
``pn_*_adv``; clouds instead of images): segmentation mIoU and the mean centroid error (cm) over
the labels with a centroid, AdaBN over the target's unlabelled train clouds. Writes
docs/results/renderer_gap_pointnet.{json,md}.
"""

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dataset.atomic import atomic_write_text
from envs.cameras import CameraParams
from perception.domain_adaptation import adapt_batch_norm, reestimate_batch_norm
from perception.keypoints import evaluate_keypoints, evaluate_lifting, load_keypoints
from perception.train_pointnet import centroid_metrics, load_pointnet, segmentation_metrics

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
SHORT = {"mujoco": "mj", "pybullet": "pb"}
REMEDIES = {"none": "", "domain randomization": "_dr", "domain-adversarial": "_adv", "AdaBN": "+adabn"}
TRAINED = ("", "_dr", "_adv")


def scenes(folder: Path) -> tuple[dict[str, np.ndarray], CameraParams | None]:
    """A scene set's test split and its (nominal) camera, if it recorded images."""
    with np.load(folder / "test.npz") as f:
        test = {k: f[k] for k in f.files}
    p = json.loads((folder / "meta.json").read_text())["camera_params"]
    if p is None:
        return test, None
    params = CameraParams(np.asarray(p["intrinsics"]), np.asarray(p["extrinsics"]), p["width"], p["height"],
                          p["near"], p["far"])
    return test, params


def train_split(folder: Path, keys: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Two unlabelled arrays of a scene set's train split: images (rgb, depth) or clouds (points, colors)."""
    with np.load(folder / "train.npz") as f:
        return f[keys[0]], f[keys[1]]


def score_keypoints(checkpoint: Path, test: dict, params: CameraParams | None,
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


def score_pointnet(checkpoint: Path, test: dict, params: CameraParams | None,
                   adapt: tuple[np.ndarray, np.ndarray] | None = None, batch: int = 32) -> dict[str, float]:
    """Segmentation mIoU and centroid error (cm: the mean over labels, and per label).

    With ``adapt`` (points, colors), the PointNet's batch norms first take those clouds' statistics.
    """
    predictor, meta = load_pointnet(str(checkpoint))
    if adapt is not None:
        points, colors = adapt
        batches = (predictor.norm.inputs(points[i:i + batch], colors[i:i + batch])
                   for i in range(0, len(points), batch))
        reestimate_batch_norm(predictor.model, batches)
    labels, cents = [], []
    for i in range(0, len(test["points"]), batch):
        lab, cen = predictor.segment(test["points"][i:i + batch], test["colors"][i:i + batch])
        labels.append(lab)
        cents.append(cen)
    seg = segmentation_metrics(np.concatenate(labels), test["labels"], meta["labels"])
    cen = centroid_metrics(np.concatenate(cents), test["centroids"], meta["labels"])
    return {"miou": seg["miou"], "iou": seg["iou"], "centroid_cm": 100 * cen["centroid_error_mean_m"],
            "centroid_cm_by_label": {k: 100 * v for k, v in cen["centroid_error_m"].items()}}


@dataclass(frozen=True)
class Model:
    """What one kind of perception model is scored by: a higher-is-better and a lower-is-better figure."""

    prefix: str  # run roles: <prefix>_mj, <prefix>_pb_dr, ...
    score: Callable[..., dict]
    adapt_keys: tuple[str, str]  # the unlabelled train arrays AdaBN reads
    primary: tuple[str, str]  # (metric key, column title), higher is better
    secondary: tuple[str, str]  # (metric key, column title), lower is better
    results: str  # file stem under docs/results


MODELS = {
    "keypoints": Model("kp", score_keypoints, ("image_rgb", "image_depth"), ("pck@1px", "PCK@1px"),
                       ("lifted_mm", "3-D error"), "renderer_gap"),
    "pointnet": Model("pn", score_pointnet, ("points", "colors"), ("miou", "mIoU"),
                      ("centroid_cm", "centroid error, cm,"), "renderer_gap_pointnet"),
}


def recovered(remedy: float, plain: float, ceiling: float) -> float:
    """Percent of the drop (ceiling - plain) that the remedy closes (negative: it widened the gap)."""
    return 100.0 * (remedy - plain) / (ceiling - plain)


def main() -> None:
    """Score every checkpoint on both renderers and write the table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=list(MODELS), default="keypoints")
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--mujoco", type=Path, required=True, help="MuJoCo scene folder (test split)")
    parser.add_argument("--pybullet", type=Path, required=True, help="PyBullet scene folder (test split)")
    parser.add_argument("--use", action="append", default=[], metavar="ROLE=RUN",
                        help="run dir under --runs for a role (kp_mj, kp_pb_dr, pn_pb, ...)")
    parser.add_argument("--also", action="append", default=[], metavar="RUN", help="score into the json too")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    kind = MODELS[args.model]
    use = dict(item.split("=", 1) for item in args.use)
    torch.set_num_threads(1)
    data = {"mujoco": scenes(args.mujoco), "pybullet": scenes(args.pybullet)}
    scores: dict[str, dict[str, dict]] = {}
    roles = [f"{kind.prefix}_{SHORT[source]}{suffix}" for source in SHORT for suffix in TRAINED]
    jobs = [(role, use.get(role, role)) for role in roles] + [(f"also:{run}", run) for run in args.also]
    key1, title1 = kind.primary
    key2, title2 = kind.secondary
    for key, run in jobs:
        checkpoint = args.runs / run / "checkpoint.pt"
        scores[key] = {"run": run, **{on: kind.score(checkpoint, *data[on]) for on in data}}
        print(key, run, {on: round(scores[key][on][key1], 3) for on in data}, flush=True)
    folders = {"mujoco": args.mujoco, "pybullet": args.pybullet}
    for source, target in (("mujoco", "pybullet"), ("pybullet", "mujoco")):
        plain = f"{kind.prefix}_{SHORT[source]}"
        run = scores[plain]["run"]
        adapt = train_split(folders[target], kind.adapt_keys)
        scores[f"{plain}+adabn"] = {"run": f"{run} + AdaBN", **{
            on: kind.score(args.runs / run / "checkpoint.pt", *data[on], adapt=adapt) for on in data}}
    rows = []
    for source, target in (("mujoco", "pybullet"), ("pybullet", "mujoco")):
        plain = scores[f"{kind.prefix}_{SHORT[source]}"][target]
        ceiling = scores[f"{kind.prefix}_{SHORT[target]}"][target]
        for remedy, suffix in REMEDIES.items():
            s = scores[f"{kind.prefix}_{SHORT[source]}{suffix}"]
            rows.append({"source": source, "target": target, "remedy": remedy, "run": s["run"],
                         "on_source": s[source], "on_target": s[target], "ceiling": ceiling,
                         f"recovered_{key1}_pct": None if remedy == "none" else
                         recovered(s[target][key1], plain[key1], ceiling[key1]),
                         f"recovered_{key2}_pct": None if remedy == "none" else
                         recovered(s[target][key2], plain[key2], ceiling[key2])})
    args.results.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.results / f"{kind.results}.json",
                      json.dumps({"model": args.model, "scores": scores, "rows": rows}, indent=1) + "\n")
    pct = lambda v: "" if v is None else f"{v:+.0f}%"  # noqa: E731
    lines = [f"| source -> target | remedy (run) | {title1} on source | {title1} on target (ceiling) "
             f"| recovered | {title2} on target (ceiling) | recovered |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['source']} -> {r['target']} | {r['remedy']} ({r['run']}) | "
                     f"{r['on_source'][key1]:.3f} | "
                     f"{r['on_target'][key1]:.3f} ({r['ceiling'][key1]:.3f}) | "
                     f"{pct(r[f'recovered_{key1}_pct'])} | {r['on_target'][key2]:.2f} "
                     f"({r['ceiling'][key2]:.2f}) | {pct(r[f'recovered_{key2}_pct'])} |")
    atomic_write_text(args.results / f"{kind.results}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
