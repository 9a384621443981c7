"""Train a perception model on rendered, simulator-labelled scenes (scripts/make_perception_data.py).

    python scripts/train_perception.py data=runs/perception_data/<stamp>     # PointNet
    python scripts/train_perception.py data=<folder> task=keypoints           # heatmap keypoints
    python scripts/train_perception.py data=<folder> task=detector            # CenterNet-style boxes
    python scripts/train_perception.py data=<folder> train.steps=200          # a quick check
    python scripts/train_perception.py data=<mujoco scenes> task=keypoints \
        adversarial.target=<pybullet scenes>     # domain-adversarial: unlabelled target images
                                                 # (task=pointnet too: unlabelled target clouds)

Trains on ``train.npz`` with a progress bar and TensorBoard (``tb/``), validates on ``val.npz``,
reports the held-out ``test.npz`` scenes in ``metrics.json`` and saves ``checkpoint.pt`` (weights,
label or keypoint names, cloud config or image normalization, image size, camera; loads with
``weights_only=True``). Use it in the loop with
``perception=<task> perception.checkpoint=<run>/checkpoint.pt``.
"""

import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.tensorboard import SummaryWriter

from dataset.atomic import atomic_write_bytes
from envs.cameras import CameraParams
from envs.errors import ConfigError
from perception.detector import evaluate_detector, fit_detector
from perception.domain_adaptation import AdversarialConfig, PointDomainAlignment, fit_keypoints_adversarial
from perception.keypoints import HeatmapTrainConfig, evaluate_keypoints, evaluate_lifting, fit_keypoints
from perception.pointcloud import CloudConfig
from perception.pointnet import PointNetConfig
from perception.train_pointnet import PointNetTrainConfig, PointNetTrainer
from runs import plain, start_run, write_json

log = logging.getLogger("roboloop")


def load_split(folder: Path, split: str) -> dict[str, np.ndarray]:
    """One split's arrays; the error names the script that writes them."""
    path = folder / f"{split}.npz"
    if not path.exists():
        raise ConfigError(f"no {path}; render scenes with scripts/make_perception_data.py and pass its run "
                          "dir as data=")
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def fit_pointnet(cfg: DictConfig, meta: dict, splits: dict, log_scalars) -> tuple[Any, list, dict, str]:
    """PointNet on the clouds: checkpoint maker, validation history, test metrics, a summary line."""
    train, val, test = splits["train"], splits["val"], splits["test"]
    classes = len(meta["labels"]) + 1
    model = PointNetConfig(**plain(cfg.model), seg_classes=classes, cls_classes=classes)
    trainer = PointNetTrainer(meta["labels"], CloudConfig(**meta["cloud"]), model,
                              PointNetTrainConfig(**plain(cfg.train)))
    adversarial = plain(cfg.adversarial)
    target = adversarial.pop("target", None)
    if target:  # unlabelled target scenes: only the train split's clouds are read, never their labels
        unlabelled = load_split(Path(target), "train")
        trainer.domain = PointDomainAlignment(
            {k: unlabelled[k] for k in ("points", "colors") if k in unlabelled}, trainer.norm.inputs,
            trainer.model_config.global_widths[-1], AdversarialConfig(**adversarial),
            trainer.train_config.steps, trainer.train_config.seed)
    log.info("train %d scenes, val %d, test %d; %d points each; labels %s", len(train["points"]),
             len(val["points"]), len(test["points"]), train["points"].shape[1], meta["labels"])
    history = trainer.fit(train, val, log=log_scalars)
    m = trainer.evaluate(test)
    line = (f"PointNet on held-out scenes: mIoU {m['miou']:.3f}, centroid error "
            f"{ {k: round(v * 100, 2) for k, v in m['centroid_error_m'].items()} } cm, object accuracy "
            f"{m.get('object_accuracy', float('nan')):.3f}")
    return trainer.checkpoint, history, m, line


def fit_images(cfg: DictConfig, meta: dict, splits: dict, log_scalars) -> tuple[Any, list, dict, str]:
    """The keypoint model or the detector on one camera's images."""
    if "image_rgb" not in splits["train"]:
        raise ConfigError(f"{cfg.data} has no images: render it with scripts/make_perception_data.py "
                          "image_camera=top")
    config = HeatmapTrainConfig(**plain(cfg.heatmap))
    adversarial = plain(cfg.adversarial)
    target = adversarial.pop("target", None)
    if target and cfg.task != "keypoints":
        raise ConfigError(f"adversarial.target is supported for task=keypoints and task=pointnet only, got "
                          f"task={cfg.task!r}")
    if cfg.task == "keypoints" and target:
        # unlabelled target scenes: only the train split's images are read, never its keypoints
        unlabelled = load_split(Path(target), "train")
        images = {k: unlabelled[k] for k in ("image_rgb", "image_depth")}
        model, history = fit_keypoints_adversarial(meta["keypoint_names"], splits["train"], splits["val"],
                                                   images, config, AdversarialConfig(**adversarial),
                                                   log=log_scalars)
    elif cfg.task == "keypoints":
        model, history = fit_keypoints(meta["keypoint_names"], splits["train"], splits["val"], config,
                                       log=log_scalars)
    if cfg.task == "keypoints":
        m = evaluate_keypoints(model, splits["test"])
        m["lifted_error_m"] = evaluate_lifting(model, splits["test"], camera_params(meta))
        line = (f"keypoints on held-out scenes: PCK@3px {m['pck@3px']:.3f} (by name {m['pck@3px_by_name']}), "
                f"mean error {m['mean_error_px']:.2f} px, lifted to 3-D {m['lifted_error_m']} m")
        return model.checkpoint, history, m, line
    objects = [n for n in meta["labels"] if n not in cfg.detector.ignore]
    if not objects:
        raise ConfigError(f"detector.ignore={list(cfg.detector.ignore)} leaves none of the labels "
                          f"{meta['labels']} to detect")
    ids = [meta["labels"].index(n) + 1 for n in objects]
    inst = meta.get("instance_label")
    inst_id = meta["labels"].index(inst) + 1 if inst in objects else None
    det, history = fit_detector(objects, ids, splits["train"], splits["val"], config, log=log_scalars,
                                instance_label_id=inst_id, min_visible=cfg.detector.min_visible)
    m = evaluate_detector(det, splits["test"])
    line = (f"detector on held-out scenes: mAP@0.5 {m['map@0.5']:.3f}, mAP@0.75 {m['map@0.75']:.3f}, "
            f"AP {m['ap@0.5']}; counting the {m['hidden_fraction']:.1%} mostly hidden objects too: "
            f"mAP@0.5 {m['map@0.5_all']:.3f}")
    return det.checkpoint, history, m, line


def camera_params(meta: dict) -> CameraParams:
    """The scenes' camera (nominal: the data has no camera jitter unless randomization says so)."""
    p = meta["camera_params"]
    return CameraParams(np.asarray(p["intrinsics"]), np.asarray(p["extrinsics"]), p["width"], p["height"],
                        p["near"], p["far"])


TASKS = {"pointnet": fit_pointnet, "keypoints": fit_images, "detector": fit_images}


@hydra.main(config_path="../configs", config_name="train_perception", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    """Fit, evaluate on held-out scenes, save; returns the test metrics."""
    if not cfg.data:
        raise ConfigError("pass data=<folder written by scripts/make_perception_data.py>")
    if cfg.task not in TASKS:
        raise ConfigError(f"task={cfg.task!r}; valid choices: {sorted(TASKS)}")
    torch.set_num_threads(cfg.threads)
    out, data = start_run(cfg), Path(cfg.data)
    meta = json.loads((data / "meta.json").read_text())
    splits = {s: load_split(data, s) for s in ("train", "val", "test")}
    t0 = time.perf_counter()
    with SummaryWriter(str(out / "tb")) as tb:
        def log_scalars(step: int, scalars: dict[str, float]) -> None:
            for key, value in scalars.items():
                tb.add_scalar(key if "/" in key else f"train/{key}", value, step)

        checkpoint, history, metrics, line = TASKS[cfg.task](cfg, meta, splits, log_scalars)
    train_s = time.perf_counter() - t0
    buffer = io.BytesIO()
    torch.save(checkpoint({"image_size": meta["image_size"], "env_id": meta["env_id"], "data": str(data),
                           "camera": meta.get("image_camera"), "camera_params": meta.get("camera_params"),
                           "test": metrics}), buffer)
    atomic_write_bytes(out / "checkpoint.pt", buffer.getvalue())
    write_json(out / "metrics.json", {"task": cfg.task, "data": str(data), "scenes": meta["scenes"],
                                      "train_seconds": round(train_s, 1), "test": metrics,
                                      "validation": history})
    print(f"\n{line}\n  checkpoint: {out / 'checkpoint.pt'}\n  metrics:    {out / 'metrics.json'}\n"
          f"  tensorboard: {out / 'tb'}")
    return metrics


if __name__ == "__main__":
    main()
