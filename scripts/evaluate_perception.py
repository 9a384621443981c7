"""Evaluate a trained perception checkpoint on another scene set's test split (e.g. another renderer).

    python scripts/evaluate_perception.py checkpoint=runs/train_perception/<run>/checkpoint.pt \
        data=runs/perception_data/<pybullet scenes>

The checkpoint's kind (PointNet, keypoints, detector) comes from its format; the metrics are the
ones ``scripts/train_perception.py`` reports on held-out scenes, written to ``metrics.json`` in the
run dir. Scenes rendered by PyBullet and a model trained on MuJoCo renders give the renderer gap.
"""

import json
import logging
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig
from train_perception import camera_params, load_split

from envs.errors import ConfigError
from perception import detector, keypoints, train_pointnet
from runs import start_run, write_json

log = logging.getLogger("roboloop")


def evaluate_checkpoint(path: str, data: Path) -> dict:
    """The test-split metrics of the checkpoint at ``path`` on the scenes in ``data``."""
    kind = torch.load(path, map_location="cpu", weights_only=True).get("format")
    test, meta = load_split(data, "test"), json.loads((data / "meta.json").read_text())
    if kind == train_pointnet.CHECKPOINT_FORMAT:
        predictor, ckpt = train_pointnet.load_pointnet(path)
        labels, cents = [], []
        for i in range(0, len(test["points"]), 64):
            lab, cen = predictor.segment(test["points"][i:i + 64], test["colors"][i:i + 64])
            labels.append(lab)
            cents.append(cen)
        names = ckpt["labels"]
        return {**train_pointnet.segmentation_metrics(np.concatenate(labels), test["labels"], names),
                **train_pointnet.centroid_metrics(np.concatenate(cents), test["centroids"], names)}
    if kind == keypoints.CHECKPOINT_FORMAT:
        model, _ = keypoints.load_keypoints(path)
        return {**keypoints.evaluate_keypoints(model, test),
                "lifted_error_m": keypoints.evaluate_lifting(model, test, camera_params(meta))}
    if kind == detector.CHECKPOINT_FORMAT:
        return detector.evaluate_detector(detector.load_detector(path)[0], test)
    raise ConfigError(f"{path} is not a perception checkpoint (format {kind!r}); train one with "
                      "scripts/train_perception.py")


@hydra.main(config_path="../configs", config_name="evaluate_perception", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    """Evaluate and write metrics.json."""
    if not cfg.checkpoint or not cfg.data:
        raise ConfigError("pass checkpoint=<checkpoint.pt> and data=<folder written by "
                          "scripts/make_perception_data.py>")
    torch.set_num_threads(cfg.threads)
    out = start_run(cfg)
    metrics = evaluate_checkpoint(cfg.checkpoint, Path(cfg.data))
    write_json(out / "metrics.json", {"checkpoint": cfg.checkpoint, "data": cfg.data, "test": metrics})
    print(json.dumps(metrics, indent=1))
    return metrics


if __name__ == "__main__":
    main()
