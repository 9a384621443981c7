"""A compact CenterNet-style object detector on one camera's rgb + depth.

Objects are points (Zhou et al., "Objects as Points", 2019): a :class:`HeatmapNet` predicts, at
half resolution, one centre heatmap per class, the box size (w, h) and the centre's sub-cell
offset. Decoding takes the local maxima of each class map (3x3 max-pool), reads size and offset
there, and :func:`perception.boxes.nms` removes duplicates. Training boxes are the extents of the
simulator's segmentation masks (``perception/targets.py: boxes_from_segmentation``), except for a
label that names many objects (PushParticles' pucks), whose boxes are the scenes'
``instance_boxes`` (each instance's projected outline, ``perception/targets.py: instance_boxes``).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from envs.errors import ConfigError
from perception.boxes import mean_average_precision, nms
from perception.heatmap import STRIDE, HeatmapNet, ImageNormalization, focal_loss, gaussian_maps
from perception.identity import ObservationKeyError, require_image_size
from perception.keypoints import HeatmapTrainConfig, fit_loop
from perception.targets import boxes_from_segmentation

CHECKPOINT_FORMAT = "roboloop.perception.detector"
SIZE_SCALE = 16.0  # box sizes are regressed in units of this many pixels


class Detector:
    """Boxes, scores and classes of images; classes are names of segmentation labels."""

    def __init__(self, classes: Sequence[str], label_ids: Sequence[int], norm: ImageNormalization,
                 widths: Sequence[int] = (16, 32, 64), net: HeatmapNet | None = None,
                 instance_label_id: int | None = None, full_areas: Sequence[float] | None = None,
                 min_visible: float = 0.0) -> None:
        self.classes, self.label_ids = list(classes), [int(i) for i in label_ids]
        self.norm, self.widths = norm, list(widths)
        self.instance_label_id = None if instance_label_id is None else int(instance_label_id)
        self.full_areas = None if full_areas is None else [float(a) for a in full_areas]
        self.min_visible = float(min_visible)
        self.net = net or HeatmapNet(4, len(self.classes) + 4, self.widths)

    def truth(self, seg: np.ndarray,
              instances: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """True boxes (M, 4), class indices (M,) and which are mostly hidden (M,) bool, of one scene.

        Boxes are mask extents, or the instance boxes where given. A mask smaller than
        ``min_visible`` of its class's ``full_areas`` (an object mostly hidden, e.g. a cube under
        the gripper that holds it) is flagged: its box is not trained on, and scoring ignores it
        (PASCAL VOC's "difficult" protocol), since a sliver's extent is not the object's.
        """
        whole = [i for i in self.label_ids if i != self.instance_label_id]
        boxes, ids = boxes_from_segmentation(seg, whole)
        cls = np.asarray([self.label_ids.index(int(k)) for k in ids], np.int64)
        hidden = np.zeros(len(cls), bool)
        if self.full_areas is not None and self.min_visible > 0:
            areas = np.asarray([(seg == k).sum() for k in ids], np.float64)
            hidden = areas < self.min_visible * np.asarray(self.full_areas)[cls]
        if self.instance_label_id is not None:
            if instances is None:
                raise ConfigError("this detector boxes each instance of label id "
                                  f"{self.instance_label_id}; its scenes need 'instance_boxes' "
                                  "(render them with scripts/make_perception_data.py)")
            seen = instances[np.isfinite(instances).all(axis=1)]  # hidden instances are already dropped
            boxes = np.concatenate([boxes, seen.astype(np.float32)])
            cls = np.concatenate([cls, np.full(len(seen), self.label_ids.index(self.instance_label_id))])
            hidden = np.concatenate([hidden, np.zeros(len(seen), bool)])
        return boxes, cls, hidden

    def targets(self, seg: np.ndarray, sigma: float,
                instances: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centre maps (C, h, w), size+offset (4, h, w) and where they apply (h, w) from one scene."""
        h, w = seg.shape[0] // STRIDE, seg.shape[1] // STRIDE
        boxes, classes, hidden = self.truth(seg, instances)
        heat = np.zeros((len(self.classes), h, w), np.float32)
        reg, mask = np.zeros((4, h, w), np.float32), np.zeros((h, w), np.float32)
        for box, c in zip(boxes[~hidden], classes[~hidden], strict=True):
            u, v = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            cu, cv = u / STRIDE - 0.5, v / STRIDE - 0.5
            j, i = min(max(int(round(cu)), 0), w - 1), min(max(int(round(cv)), 0), h - 1)
            # The peak (exactly 1) sits on the centre's cell; the offset head recovers the rest.
            cell = np.array([[(j + 0.5) * STRIDE, (i + 0.5) * STRIDE]])
            heat[c] = np.maximum(heat[c], gaussian_maps(cell, (h, w), sigma))
            reg[:, i, j] = ((box[2] - box[0]) / SIZE_SCALE, (box[3] - box[1]) / SIZE_SCALE, cu - j, cv - i)
            mask[i, j] = 1.0
        return heat, reg, mask

    def loss(self, rgb: np.ndarray, depth: np.ndarray, seg: np.ndarray, sigma: float,
             instances: np.ndarray | None = None) -> torch.Tensor:
        """Focal loss on the centre heatmaps + L1 on size and offset at the true centres."""
        out = self.net(self.norm.inputs(rgb, depth))
        inst = [None] * len(seg) if instances is None else instances
        heat, reg, mask = (torch.from_numpy(np.stack(t))
                           for t in zip(*(self.targets(s, sigma, i) for s, i in zip(seg, inst, strict=True)),
                                        strict=True))
        c = len(self.classes)
        l1 = (nn.functional.l1_loss(out[:, c:], reg, reduction="none").sum(dim=1) * mask).sum()
        return focal_loss(out[:, :c], heat) + l1 / mask.sum().clamp(min=1)

    @torch.no_grad()
    def detect(self, rgb: np.ndarray, depth: np.ndarray, threshold: float = 0.05, top_k: int = 50,
               iou_threshold: float = 0.5) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per image: boxes (M, 4) pixels, scores (M,), class indices (M,), after per-class NMS."""
        self.net.eval()
        out = self.net(self.norm.inputs(rgb, depth))
        c = len(self.classes)
        heat = torch.sigmoid(out[:, :c])
        peaks = heat == nn.functional.max_pool2d(heat, 3, stride=1, padding=1)
        heat, reg = (heat * peaks).numpy(), out[:, c:].numpy()
        results = []
        for b in range(len(rgb)):
            flat = heat[b].reshape(-1)
            order = np.argsort(-flat)[:top_k]
            order = order[flat[order] > threshold]
            cls, rem = np.divmod(order, heat.shape[2] * heat.shape[3])
            i, j = np.divmod(rem, heat.shape[3])
            size_w, size_h, off_u, off_v = (reg[b, k, i, j] for k in range(4))
            u, v = (j + off_u + 0.5) * STRIDE, (i + off_v + 0.5) * STRIDE
            bw, bh = np.maximum(size_w, 0) * SIZE_SCALE, np.maximum(size_h, 0) * SIZE_SCALE
            boxes = np.stack([u - bw / 2, v - bh / 2, u + bw / 2, v + bh / 2], axis=1).astype(np.float32)
            scores = flat[order].astype(np.float32)
            keep = np.concatenate([np.flatnonzero(cls == k)[nms(boxes[cls == k], scores[cls == k],
                                                                 iou_threshold)]
                                   for k in range(c)]).astype(np.int64)
            keep = keep[np.argsort(-scores[keep], kind="stable")]
            results.append((boxes[keep], scores[keep], cls[keep].astype(np.int64)))
        return results

    def checkpoint(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A ``torch.save``-able dict that loads with ``weights_only=True`` (:func:`load_detector`)."""
        return {"format": CHECKPOINT_FORMAT, "version": 1, "classes": self.classes,
                "label_ids": self.label_ids, "instance_label_id": self.instance_label_id,
                "full_areas": self.full_areas, "min_visible": self.min_visible,
                "widths": self.widths, "normalization": asdict(self.norm),
                "extra": dict(extra or {}), "state_dict": self.net.state_dict()}


def fit_detector(classes: Sequence[str], label_ids: Sequence[int], train: Mapping[str, np.ndarray],
                 val: Mapping[str, np.ndarray], config: HeatmapTrainConfig, log: Callable | None = None,
                 progress: bool = True, instance_label_id: int | None = None,
                 min_visible: float = 0.0) -> tuple[Detector, list[dict]]:
    """Train a detector on a scene set (``image_rgb``, ``image_depth``, ``image_segmentation``).

    With ``instance_label_id``, that label's boxes are the scenes' ``instance_boxes``, one per object.
    With ``min_visible`` > 0, masks smaller than that fraction of their class's full area (the 95th
    percentile of its mask areas in the training scenes) are mostly hidden objects: not trained on,
    ignored in scoring (:meth:`Detector.truth`). The weights kept are those of the best validation
    mAP@0.5.
    """
    torch.manual_seed(config.seed)
    depth = train["image_depth"]
    seg = train["image_segmentation"]
    full_areas = [float(np.percentile(a[a > 0], 95)) if (a := (seg == k).sum(axis=(1, 2))).any() else 0.0
                  for k in label_ids]
    det = Detector(classes, label_ids, ImageNormalization(float(depth.mean()), float(depth.std() + 1e-6)),
                   config.widths, instance_label_id=instance_label_id, full_areas=full_areas,
                   min_visible=min_visible)
    instances = train.get("instance_boxes") if instance_label_id is not None else None

    def loss(batch: np.ndarray) -> torch.Tensor:
        seg = train["image_segmentation"][batch]
        inst = None if instances is None else instances[batch]
        return det.loss(train["image_rgb"][batch], depth[batch], seg, config.sigma, inst)

    history = fit_loop(det.net, config, loss, len(depth), lambda: evaluate_detector(det, val), log, progress,
                       "detector", select="map@0.5")
    return det, history


def evaluate_detector(det: Detector, scenes: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """MAP at IoU 0.5 (and 0.75) over the scene set, AP per class; mostly hidden objects ignored.

    ``map@0.5_all`` counts every box, the mostly hidden ones too (equal to ``map@0.5`` when the
    detector flags none); ``hidden_fraction`` is the share of boxes flagged.
    """
    detections = []
    for i in range(0, len(scenes["image_rgb"]), 64):
        detections += det.detect(scenes["image_rgb"][i:i + 64], scenes["image_depth"][i:i + 64])
    instances = scenes.get("instance_boxes") if det.instance_label_id is not None else None
    truths = [det.truth(seg, None if instances is None else instances[i])
              for i, seg in enumerate(scenes["image_segmentation"])]
    at50 = mean_average_precision(detections, truths, len(det.classes), 0.5)
    at75 = mean_average_precision(detections, truths, len(det.classes), 0.75)
    every = mean_average_precision(detections, [(b, c) for b, c, _ in truths], len(det.classes), 0.5)
    hidden = np.concatenate([h for _, _, h in truths]) if truths else np.zeros(0, bool)
    return {"map@0.5": at50["map"], "map@0.75": at75["map"], "map@0.5_all": every["map"],
            "ap@0.5": dict(zip(det.classes, at50["ap"], strict=True)),
            "ap@0.5_all": dict(zip(det.classes, every["ap"], strict=True)),
            "hidden_fraction": float(hidden.mean()) if len(hidden) else 0.0}


def load_detector(path: str) -> tuple[Detector, dict[str, Any]]:
    """A detector and its checkpoint's metadata from ``path`` (``weights_only=True``)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path} is not a detector checkpoint (expected format {CHECKPOINT_FORMAT!r}); "
                          "train one with scripts/train_perception.py model=detector")
    net = HeatmapNet(4, len(ckpt["classes"]) + 4, ckpt["widths"])
    net.load_state_dict(ckpt["state_dict"])
    det = Detector(ckpt["classes"], ckpt["label_ids"], ImageNormalization(**ckpt["normalization"]),
                   ckpt["widths"], net, ckpt.get("instance_label_id"), ckpt.get("full_areas"),
                   ckpt.get("min_visible", 0.0))
    return det, {k: v for k, v in ckpt.items() if k != "state_dict"}


class DetectorPerception:
    """Perception: one camera's rgb + depth -> the best box per class: ``boxes`` (C, 4), ``box_scores`` (C,).

    A class with no detection has a zero box and score 0. Kept keys (``proprio``) pass through.
    """

    name = "detector"

    def __init__(self, checkpoint: str, keep: Sequence[str] = ("proprio",)) -> None:
        self.checkpoint, self.keep = str(checkpoint), list(keep)
        self.detector, self.meta = load_detector(self.checkpoint)
        self.camera = self.meta["extra"].get("camera", "top")
        self.image_size = self.meta["extra"].get("image_size")

    def spec(self) -> dict[str, Any]:
        """What rebuilds this module (``perception.make_perception``)."""
        return {"name": self.name, "config": {"checkpoint": self.checkpoint, "keep": self.keep}}

    def reset(self) -> None:
        """Stateless."""

    def check_image_size(self, image_size: int) -> None:
        """Refuse an env whose images differ in size from the detector's (``PerceptionWrapper`` asks)."""
        require_image_size("detector", self.checkpoint, self.image_size, image_size)

    def observation_space(self, env_space: spaces.Space) -> spaces.Dict:
        """The feature space, given the env's (dict) observation space: boxes in pixels, scores in [0, 1]."""
        if not isinstance(env_space, spaces.Dict) or any(k not in env_space.spaces for k in self.keep):
            raise ObservationKeyError(f"DetectorPerception keeps {self.keep} but the env's observation space "
                                      f"is {env_space}")
        c = len(self.detector.classes)
        return spaces.Dict({"boxes": spaces.Box(-np.inf, np.inf, (c, 4), np.float32),
                            "box_scores": spaces.Box(0.0, 1.0, (c,), np.float32),
                            **{key: env_space[key] for key in self.keep}})

    def __call__(self, obs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Features of one observation."""
        keys = [f"{self.camera}_rgb", f"{self.camera}_depth", *self.keep]
        if not isinstance(obs, Mapping) or any(k not in obs for k in keys):
            have = sorted(obs) if isinstance(obs, Mapping) else type(obs).__name__
            raise ObservationKeyError(f"DetectorPerception needs observation keys {keys}, got {have}")
        rgb = np.asarray(obs[keys[0]])
        require_image_size("detector", self.checkpoint, self.image_size, rgb.shape[:2])
        boxes, scores, cls = self.detector.detect(rgb[None], np.asarray(obs[keys[1]])[None])[0]
        out_boxes = np.zeros((len(self.detector.classes), 4), np.float32)
        out_scores = np.zeros(len(self.detector.classes), np.float32)
        for k in range(len(self.detector.classes)):
            if (cls == k).any():
                best = int(np.flatnonzero(cls == k)[0])  # detections are sorted by score
                out_boxes[k], out_scores[k] = boxes[best], scores[best]
        out = {"boxes": out_boxes, "box_scores": out_scores}
        out.update({k: np.asarray(obs[k]) for k in self.keep})
        return out
