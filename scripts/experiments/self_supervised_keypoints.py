"""Self-supervised keypoints on PushCube scenes, scored by a linear probe to the true positions.

    python scripts/experiments/self_supervised_keypoints.py --data runs/perception_data/mj
    python scripts/experiments/self_supervised_keypoints.py --data <scenes> --steps 100   # a quick check

Trains ``perception/self_supervised_keypoints.py`` on the top camera's rgb + depth of the scene
set's train split (frame pairs of one episode, no labels; ``--downsample 2`` averages 2x2 pixels,
96 -> 48, to fit a CPU budget). Then a least-squares probe maps the K keypoints to the true
world ``(x, y)`` of the cube's top centre and the pusher tip (from the simulator's state, used
only here), fitted on the train scenes and scored on the held-out test scenes, against predicting
the train mean. Writes docs/results/self_supervised_keypoints.{json,md} and, with ``--out``, a
checkpoint.
"""

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
import torch

from dataset.atomic import atomic_write_bytes, atomic_write_text
from perception.heatmap import ImageNormalization
from perception.self_supervised_keypoints import (
    KeypointAutoencoder,
    SelfSupervisedConfig,
    SelfSupervisedKeypoints,
    fit_self_supervised,
    linear_probe,
)

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
TARGETS = {"cube_top": 4, "pusher_tip": 5}  # perception/targets.py: KEYPOINT_NAMES order


def load(folder: Path, split: str, downsample: int) -> dict[str, np.ndarray]:
    """One split's images (mean over ``downsample`` x ``downsample`` pixels), seeds and world keypoints."""
    with np.load(folder / f"{split}.npz") as f:
        rgb, depth = f["image_rgb"].astype(np.float32), f["image_depth"].astype(np.float32)
        out = {"seeds": f["seeds"], "keypoints_world": f["keypoints_world"]}
    if downsample > 1:
        n, h, w = depth.shape
        s = downsample
        rgb = rgb.reshape(n, h // s, s, w // s, s, 3).mean(axis=(2, 4))
        depth = depth.reshape(n, h // s, s, w // s, s).mean(axis=(2, 4))
    out["image_rgb"], out["image_depth"] = rgb.round().astype(np.uint8), depth
    return out


def probe(model: SelfSupervisedKeypoints, train: dict, test: dict) -> dict[str, dict[str, float]]:
    """The linear probe from all keypoints to each target's world (x, y), per target."""
    kp_train = model.predict(train["image_rgb"], train["image_depth"]).reshape(len(train["seeds"]), -1)
    kp_test = model.predict(test["image_rgb"], test["image_depth"]).reshape(len(test["seeds"]), -1)
    return {name: linear_probe(kp_train, train["keypoints_world"][:, k, :2], kp_test,
                               test["keypoints_world"][:, k, :2]) for name, k in TARGETS.items()}


def main() -> None:
    """Train, probe, write the results."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="scene folder (make_perception_data.py)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--keypoints", type=int, default=8)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--downsample", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also save a checkpoint here")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, test = load(args.data, "train", args.downsample), load(args.data, "test", args.downsample)
    config = SelfSupervisedConfig(keypoints=args.keypoints, width=args.width, steps=args.steps,
                                  batch_size=args.batch_size, seed=args.seed)
    torch.manual_seed(args.seed)  # the same initial weights as training starts from: the untrained control
    depth = train["image_depth"]
    norm = ImageNormalization(float(depth.mean()), float(depth.std() + 1e-6))
    untrained = SelfSupervisedKeypoints(KeypointAutoencoder(4, config.keypoints, config.width, config.sigma),
                                        norm, config)
    control = probe(untrained, train, test)
    t0 = time.perf_counter()
    model, history = fit_self_supervised(train, train["seeds"], config)
    seconds = time.perf_counter() - t0
    probes = probe(model, train, test)
    result = {"data": str(args.data), "config": vars(config), "downsample": args.downsample,
              "image_size": list(train["image_depth"].shape[1:]), "train_scenes": len(train["seeds"]),
              "test_scenes": len(test["seeds"]), "train_seconds": round(seconds, 1),
              "loss_first_last": [history[0]["loss"], history[-1]["loss"]], "probe_m": probes,
              "probe_m_untrained": control}
    args.results.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.results / "self_supervised_keypoints.json", json.dumps(result, indent=1) + "\n")
    rows = "\n".join(f"| {n} | {p['probe_error'] * 100:.2f} | {control[n]['probe_error'] * 100:.2f} | "
                     f"{p['mean_error'] * 100:.2f} | {p['r2']:.3f} |" for n, p in probes.items())
    atomic_write_text(args.results / "self_supervised_keypoints.md",
                      f"Self-supervised keypoints ({config.keypoints}, {result['image_size']} px, "
                      f"{config.steps} steps, {seconds:.0f} s), linear probe on {result['test_scenes']} "
                      "held-out scenes:\n\n"
                      "| object (x, y) | probe error cm | untrained net's probe cm | predict-the-mean cm "
                      "| R^2 |\n"
                      "|---|---:|---:|---:|---:|\n"
                      f"{rows}\n")
    if args.out is not None:
        buffer = io.BytesIO()
        torch.save(model.checkpoint({"data": str(args.data), "downsample": args.downsample}), buffer)
        atomic_write_bytes(args.out, buffer.getvalue())
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
