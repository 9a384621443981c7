"""Train a PointNet on rendered, simulator-labelled clouds; save and load its checkpoint.

A scene set is a dict of arrays (``scripts/make_perception_data.py`` writes them as ``.npz``):
``points`` (S, N, 3) float32 world frame, ``colors`` (S, N, 3) float32 in [0, 1], ``labels``
(S, N) uint8 segmentation ids, ``centroids`` (S, L, 3) float32 (NaN where a label has none).

One PointNet learns segmentation and centroid offsets of whole scenes; a second one, with the same
widths, learns classification of single objects cut from the same scenes (the points of one label,
centred, resampled to ``object_points``). Two models, not two heads on one, because batch norm's
running statistics of centred single objects and of whole scenes differ. Inputs are normalized by
the crop box (centre and half extent), stored in the checkpoint with the label names so that a
loaded model needs nothing else.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from envs.errors import ConfigError
from perception.pointcloud import CloudConfig
from perception.pointnet import PointNet, PointNetConfig, orthogonality_loss, vote_centroids
from perception.targets import point_offsets

CHECKPOINT_FORMAT = "roboloop.perception.pointnet"
CHECKPOINT_VERSION = 1


@dataclass
class PointNetTrainConfig:
    """One PointNet training run."""

    steps: int = 2000  # gradient steps
    batch_size: int = 16  # scenes per step (and as many single-object clouds)
    lr: float = 1e-3  # Adam learning rate, cosine-decayed to 0
    ortho_weight: float = 1e-3  # weight of the feature transform's orthogonality regulariser
    offset_weight: float = 1.0  # weight of the centroid-offset loss (normalized units)
    object_points: int = 128  # points per single-object cloud for the classification head
    eval_every: int = 500  # steps between validation passes
    seed: int = 0  # torch / numpy seed

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        for name in ("steps", "batch_size", "lr", "object_points", "eval_every"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"PointNetTrainConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.ortho_weight < 0 or self.offset_weight < 0:
            raise ConfigError(f"PointNetTrainConfig weights must be >= 0, got ortho_weight="
                              f"{self.ortho_weight}, offset_weight={self.offset_weight}")


@dataclass(frozen=True)
class Normalization:
    """Points enter the network as ``(xyz - center) / scale`` and colours as ``rgb - 0.5``."""

    center: tuple[float, float, float]
    scale: float

    @classmethod
    def from_workspace(cls, workspace: Sequence[float]) -> "Normalization":
        """Centre and largest half extent of the crop box."""
        lo, hi = np.asarray(workspace[0::2], float), np.asarray(workspace[1::2], float)
        return cls(tuple(float(v) for v in (lo + hi) / 2), float(np.max(hi - lo) / 2))

    def inputs(self, points: np.ndarray, colors: np.ndarray) -> torch.Tensor:
        """(..., N, 3) points and colours -> (..., N, 6) float32 network inputs."""
        xyz = (np.asarray(points, np.float32) - np.asarray(self.center, np.float32)) / np.float32(self.scale)
        return torch.from_numpy(np.concatenate([xyz, np.asarray(colors, np.float32) - 0.5], axis=-1))


def object_clouds(scenes: Mapping[str, np.ndarray], n: int, rng: np.random.Generator,
                  batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``batch`` single-object clouds drawn from random scenes: points, colours (B, n, 3), labels (B,).

    Each is the points of one label present in a scene, centred on their mean and resampled (with
    replacement) to ``n`` points, so that the class must come from shape and colour, not position.
    """
    pts, cols, ys = [], [], []
    while len(ys) < batch:
        s = int(rng.integers(len(scenes["labels"])))
        labels = scenes["labels"][s]
        present = [c for c in np.unique(labels) if c > 0 and (labels == c).sum() >= 3]
        c = present[int(rng.integers(len(present)))]
        idx = rng.choice(np.flatnonzero(labels == c), n, replace=True)
        p = scenes["points"][s][idx]
        pts.append(p - p.mean(axis=0))
        cols.append(scenes["colors"][s][idx])
        ys.append(c)
    return np.stack(pts), np.stack(cols), np.asarray(ys, np.int64)


class PointNetTrainer:
    """Fits :class:`PointNet` on a scene set; ``evaluate`` gives held-out metrics."""

    def __init__(self, labels: Sequence[str], cloud: CloudConfig, model: PointNetConfig | None = None,
                 train: PointNetTrainConfig | None = None) -> None:
        self.labels, self.cloud = list(labels), cloud
        self.norm = Normalization.from_workspace(cloud.workspace)
        classes = len(self.labels) + 1  # id 0 = nothing labelled
        config = model or PointNetConfig(seg_classes=classes, cls_classes=classes)
        if config.seg_classes != classes or config.cls_classes not in (0, classes):
            raise ConfigError(f"labels {self.labels} need {classes} classes (with 0 = nothing), got "
                              f"seg_classes={config.seg_classes}, cls_classes={config.cls_classes}")
        self.model_config = replace(config, cls_classes=0)
        self.train_config = train or PointNetTrainConfig()
        torch.manual_seed(self.train_config.seed)
        self.model = PointNet(self.model_config)
        self.classifier = (PointNet(replace(config, seg_classes=0, cls_classes=classes))
                           if config.cls_classes else None)
        self.domain: nn.Module | None = None  # PointDomainAlignment: unlabelled target clouds join training

    def loss(self, scenes: Mapping[str, np.ndarray], batch: np.ndarray,
             rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        """Segmentation cross-entropy + offset L1 (normalized) + classification + regulariser.

        With ``domain`` set, the domain classifier's loss is added (target clouds in the same pass).
        """
        c, t = self.model_config, self.train_config
        terms: dict[str, torch.Tensor] = {}
        x = self.norm.inputs(scenes["points"][batch], scenes["colors"][batch])
        if self.domain is not None:  # target clouds in the same forward pass; only their domain is scored
            out = self.model(torch.cat([x, self.domain.target_inputs(len(batch))]))
            terms["domain"], parts = self.domain.loss(out["global"], len(batch))
            out = {k: v[:len(batch)] for k, v in out.items()}
        else:
            out, parts = self.model(x), {}
        labels = torch.from_numpy(scenes["labels"][batch].astype(np.int64))
        terms["seg"] = nn.functional.cross_entropy(out["seg_logits"].reshape(-1, c.seg_classes),
                                                   labels.reshape(-1))
        target = np.stack([point_offsets(scenes["points"][i], scenes["labels"][i], scenes["centroids"][i])
                           for i in batch]) / self.norm.scale
        known = torch.from_numpy(np.isfinite(target).all(axis=-1))
        target_t = torch.from_numpy(np.nan_to_num(target).astype(np.float32))
        err = (out["offsets"] - target_t).abs().sum(dim=-1)
        terms["offset"] = t.offset_weight * (err * known).sum() / known.sum().clamp(min=1)
        if "feature_transform" in out:
            terms["ortho"] = t.ortho_weight * orthogonality_loss(out["feature_transform"])
        if self.classifier is not None:
            p, col, y = object_clouds(scenes, t.object_points, rng, len(batch))
            obj = self.classifier(self._object_inputs(p, col))
            terms["cls"] = nn.functional.cross_entropy(obj["cls_logits"], torch.from_numpy(y))
            if "feature_transform" in obj:
                terms["ortho"] = terms["ortho"] + t.ortho_weight * orthogonality_loss(
                    obj["feature_transform"])
        total = sum(terms.values())
        return total, {**{k: float(v.detach()) for k, v in terms.items()}, **parts}

    def fit(self, train: Mapping[str, np.ndarray], val: Mapping[str, np.ndarray] | None = None,
            log: Callable[[int, dict[str, float]], None] | None = None, progress: bool = True) -> list[dict]:
        """Train for ``steps``; returns the validation metrics logged every ``eval_every`` steps."""
        from tqdm.auto import tqdm

        t = self.train_config
        rng = np.random.default_rng(t.seed)
        params = [p for m in (self.model, self.classifier, self.domain) if m is not None
                  for p in m.parameters()]
        opt = torch.optim.Adam(params, lr=t.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / t.steps)))
        history = []
        bar = tqdm(range(1, t.steps + 1), desc="pointnet", disable=not progress)
        for step in bar:
            self.model.train()
            if self.classifier is not None:
                self.classifier.train()
            batch = rng.integers(len(train["points"]), size=t.batch_size)
            loss, terms = self.loss(train, batch, rng)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
            if log is not None and step % 50 == 0:
                log(step, {"loss": float(loss.detach()), **terms})
            if val is not None and (step % t.eval_every == 0 or step == t.steps):
                metrics = {"step": step, **self.evaluate(val)}
                history.append(metrics)
                bar.write(f"step {step}: val mIoU {metrics['miou']:.3f}, centroid error "
                          f"{100 * metrics['centroid_error_mean_m']:.2f} cm")
                if log is not None:
                    log(step, {f"val/{k}": v for k, v in metrics.items() if isinstance(v, float)})
        return history

    @torch.no_grad()
    def evaluate(self, scenes: Mapping[str, np.ndarray], batch: int = 64) -> dict[str, Any]:
        """Segmentation mIoU over the labels, centroid errors (m) per label, object-class accuracy."""
        self.model.eval()
        predict = PointNetPredictor(self.model, self.norm, self.labels)
        preds, cents = [], []
        for i in range(0, len(scenes["points"]), batch):
            labels, centroids = predict.segment(scenes["points"][i:i + batch], scenes["colors"][i:i + batch])
            preds.append(labels)
            cents.append(centroids)
        return {**segmentation_metrics(np.concatenate(preds), scenes["labels"], self.labels),
                **centroid_metrics(np.concatenate(cents), scenes["centroids"], self.labels),
                **self._classification(scenes)}

    def _classification(self, scenes: Mapping[str, np.ndarray]) -> dict[str, float]:
        if self.classifier is None:
            return {}
        self.classifier.eval()
        p, col, y = object_clouds(scenes, self.train_config.object_points, np.random.default_rng(123),
                                  min(512, 4 * len(scenes["labels"])))
        pred = self.classifier(self._object_inputs(p, col))["cls_logits"].argmax(dim=1).numpy()
        return {"object_accuracy": float((pred == y).mean())}

    def _object_inputs(self, points: np.ndarray, colors: np.ndarray) -> torch.Tensor:
        """Centred single-object clouds (B, n, 3) -> (B, n, 6): scaled like scenes, not shifted."""
        x = np.concatenate([points / np.float32(self.norm.scale), colors - np.float32(0.5)], axis=-1)
        return torch.from_numpy(x.astype(np.float32))

    def checkpoint(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A ``torch.save``-able dict that loads with ``weights_only=True`` (:func:`load_pointnet`)."""
        return {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "labels": self.labels,
                "model": asdict(self.model_config), "cloud": asdict(self.cloud),
                "normalization": {"center": list(self.norm.center), "scale": self.norm.scale},
                "train": asdict(self.train_config), "extra": dict(extra or {}),
                "state_dict": self.model.state_dict(),
                "classifier": None if self.classifier is None else {
                    "model": asdict(self.classifier.config), "state_dict": self.classifier.state_dict()}}


def segmentation_metrics(pred: np.ndarray, truth: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Per-label IoU over all points of all scenes and their mean (labels present in ``truth``)."""
    ious = {}
    for i, name in enumerate(labels, start=1):
        union = np.logical_or(pred == i, truth == i).sum()
        if (truth == i).any():
            ious[name] = float(np.logical_and(pred == i, truth == i).sum() / union)
    return {"miou": float(np.mean(list(ious.values()))), "iou": ious,
            "point_accuracy": float((pred == truth).mean())}


def centroid_metrics(pred: np.ndarray, truth: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Mean and 95th-percentile centroid error (metres, 3-D) per label with a centroid."""
    out: dict[str, Any] = {"centroid_error_m": {}, "centroid_error_p95_m": {}, "centroid_missing": {}}
    for i, name in enumerate(labels):
        known = np.isfinite(truth[:, i]).all(axis=1)
        if not known.any():
            continue
        err = np.linalg.norm(pred[known, i] - truth[known, i], axis=1)
        out["centroid_missing"][name] = int(np.isnan(err).sum())
        err = err[np.isfinite(err)]
        out["centroid_error_m"][name] = float(err.mean()) if len(err) else float("nan")
        out["centroid_error_p95_m"][name] = float(np.percentile(err, 95)) if len(err) else float("nan")
    errors = [v for v in out["centroid_error_m"].values() if math.isfinite(v)]
    out["centroid_error_mean_m"] = float(np.mean(errors)) if errors else float("nan")
    return out


class PointNetPredictor:
    """Numpy in, numpy out: segmentation labels and voted centroids of clouds (eval mode, no grad)."""

    def __init__(self, model: PointNet, norm: Normalization, labels: Sequence[str]) -> None:
        self.model, self.norm, self.labels = model.eval(), norm, list(labels)

    @torch.no_grad()
    def __call__(self, points: np.ndarray, colors: np.ndarray) -> dict[str, np.ndarray]:
        """(B, N, 3) points and colours -> labels (B, N), centroids (B, L, 3) metres, global (B, G)."""
        out = self.model(self.norm.inputs(points, colors))
        labels = out["seg_logits"].argmax(dim=-1)
        xyz = torch.from_numpy(np.asarray(points, np.float32))
        offsets = out["offsets"] * self.norm.scale
        cents, _ = vote_centroids(xyz, offsets, labels, len(self.labels) + 1)
        return {"labels": labels.numpy().astype(np.uint8), "centroids": cents[:, 1:].numpy(),
                "global": out["global"].numpy()}

    def segment(self, points: np.ndarray, colors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels (B, N) and centroids (B, L, 3)."""
        out = self(points, colors)
        return out["labels"], out["centroids"]


def load_pointnet(path: str) -> tuple[PointNetPredictor, dict[str, Any]]:
    """A predictor and the checkpoint's metadata (labels, cloud config, ...) from ``path``."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path} is not a PointNet perception checkpoint (format "
                          f"{ckpt.get('format') if isinstance(ckpt, dict) else type(ckpt).__name__!r}, "
                          f"expected {CHECKPOINT_FORMAT!r}); train one with scripts/train_perception.py")
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise ConfigError(f"{path}: checkpoint version {ckpt.get('version')}, this code reads "
                          f"{CHECKPOINT_VERSION}; retrain with scripts/train_perception.py")
    model = PointNet(PointNetConfig(**ckpt["model"]))
    model.load_state_dict(ckpt["state_dict"])
    norm = Normalization(tuple(ckpt["normalization"]["center"]), float(ckpt["normalization"]["scale"]))
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "classifier")}
    return PointNetPredictor(model, norm, ckpt["labels"]), meta

