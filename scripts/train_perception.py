"""Train a PointNet (segmentation, centroid votes, object classes) on rendered, labelled scenes.

    python scripts/train_perception.py data=runs/perception_data/<stamp>
    python scripts/train_perception.py data=<folder> train.steps=200        # a quick check

Trains on ``train.npz`` with a progress bar and TensorBoard (``tb/``), validates on ``val.npz``,
reports the held-out ``test.npz`` scenes in ``metrics.json`` and saves ``checkpoint.pt`` (weights,
label names, cloud config, normalization, image size; loads with ``weights_only=True``). Use it
in the loop with ``perception=pointnet perception.checkpoint=<run>/checkpoint.pt``.
"""

import io
import json
import logging
import time
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.tensorboard import SummaryWriter

from dataset.atomic import atomic_write_bytes
from envs.errors import ConfigError
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


@hydra.main(config_path="../configs", config_name="train_perception", version_base="1.3")
def main(cfg: DictConfig) -> float:
    """Fit, evaluate on held-out scenes, save; returns the test mIoU."""
    if not cfg.data:
        raise ConfigError("pass data=<folder written by scripts/make_perception_data.py>")
    torch.set_num_threads(cfg.threads)
    out, data = start_run(cfg), Path(cfg.data)
    meta = json.loads((data / "meta.json").read_text())
    train, val, test = (load_split(data, s) for s in ("train", "val", "test"))
    classes = len(meta["labels"]) + 1
    model = PointNetConfig(**plain(cfg.model), seg_classes=classes, cls_classes=classes)
    trainer = PointNetTrainer(meta["labels"], CloudConfig(**meta["cloud"]), model,
                              PointNetTrainConfig(**plain(cfg.train)))
    log.info("train %d scenes, val %d, test %d; %d points each; labels %s", len(train["points"]),
             len(val["points"]), len(test["points"]), train["points"].shape[1], meta["labels"])
    t0 = time.perf_counter()
    with SummaryWriter(str(out / "tb")) as tb:
        def log_scalars(step: int, scalars: dict[str, float]) -> None:
            for key, value in scalars.items():
                tb.add_scalar(key if "/" in key else f"train/{key}", value, step)

        history = trainer.fit(train, val, log=log_scalars)
    train_s = time.perf_counter() - t0
    metrics = trainer.evaluate(test)
    buffer = io.BytesIO()
    torch.save(trainer.checkpoint({"image_size": meta["image_size"], "env_id": meta["env_id"],
                                   "data": str(data), "test": metrics}), buffer)
    atomic_write_bytes(out / "checkpoint.pt", buffer.getvalue())
    write_json(out / "metrics.json", {"data": str(data), "scenes": meta["scenes"],
                                      "train_seconds": round(train_s, 1), "test": metrics,
                                      "validation": history})
    print(f"\nPointNet on held-out scenes: mIoU {metrics['miou']:.3f}, centroid error "
          f"{ {k: round(v * 100, 2) for k, v in metrics['centroid_error_m'].items()} } cm, object accuracy "
          f"{metrics.get('object_accuracy', float('nan')):.3f}\n  checkpoint: {out / 'checkpoint.pt'}\n"
          f"  metrics:    {out / 'metrics.json'}\n  tensorboard: {out / 'tb'}")
    return metrics["miou"]


if __name__ == "__main__":
    main()
