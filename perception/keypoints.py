"""Supervised heatmap keypoints from one camera's rgb + depth, lifted to 3-D with depth.

Targets are the simulator's 3-D keypoints projected into the camera (``perception/targets.py``).
One heatmap per keypoint *name*; a name that several keypoints share (PushCube's four cube corners)
is one unordered set, read as that many peaks and scored by the best matching. A keypoint
``(u, v)`` is lifted to the world with the nearest surface in its 3x3 pixel neighbourhood (the
smallest depth: a corner pixel may see the table behind the edge) through the camera's
intrinsics and extrinsics.

Scene sets (``scripts/make_perception_data.py`` with ``image_camera``) hold ``image_rgb`` (S, H, W, 3),
``image_depth`` (S, H, W) and ``keypoints_px`` (S, K, 2).
"""

import copy
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from envs.cameras import CameraParams
from envs.errors import ConfigError
from perception.heatmap import HeatmapNet, ImageNormalization, find_peaks, gaussian_maps, heatmap_loss
from perception.identity import ObservationKeyError, require_image_size

CHECKPOINT_FORMAT = "roboloop.perception.keypoints"


@dataclass
class HeatmapTrainConfig:
    """One heatmap-model training run (keypoints or detector)."""

    steps: int = 1500  # gradient steps
    batch_size: int = 16  # images per step
    lr: float = 2e-3  # Adam learning rate, cosine-decayed to 0
    widths: list[int] = field(default_factory=lambda: [16, 32, 64])  # the encoder's three widths
    sigma: float = 1.5  # Gaussian target width, input pixels
    eval_every: int = 500  # steps between validation passes
    seed: int = 0  # torch / numpy seed
    depth_center: float | None = None  # depth normalization (keypoints); None: the train depth's mean
    depth_scale: float | None = None  # None: the train depth's std (a few far pixels can inflate it)
    depth_max: float | None = None  # clip depth to this (metres) before normalizing; None: no clipping

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        self.widths = list(self.widths)
        if len(self.widths) != 3 or min(self.widths) < 1:
            raise ConfigError(f"HeatmapTrainConfig.widths must be three widths >= 1, got {self.widths}")
        for name in ("steps", "batch_size", "lr", "sigma", "eval_every"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"HeatmapTrainConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("depth_scale", "depth_max"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ConfigError(f"HeatmapTrainConfig.{name} must be > 0 or null, got {getattr(self, name)}")


def channels(names: Sequence[str]) -> tuple[list[str], list[int]]:
    """Unique keypoint names in order of first appearance, and how many keypoints each has."""
    unique = list(dict.fromkeys(names))
    return unique, [list(names).count(n) for n in unique]


def match_error(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-keypoint pixel errors (n,) of an unordered set: the best of all pairings (n <= 4 here).

    ``pred`` may hold fewer points than ``truth`` (peaks not found); the unmatched get ``inf``.
    """
    n = len(truth)
    pred = np.concatenate([pred, np.full((max(n - len(pred), 0), 2), np.inf, np.float32)])[:n]
    best = None
    for perm in itertools.permutations(range(n)):
        err = np.linalg.norm(pred[list(perm)] - truth, axis=1)
        if best is None or np.nansum(np.minimum(err, 1e6)) < np.nansum(np.minimum(best, 1e6)):
            best = err
    return best


def fit_loop(model: torch.nn.Module, config: HeatmapTrainConfig, loss: Callable[[np.ndarray], torch.Tensor],
             n: int, validate: Callable[[], dict[str, Any]], log: Callable | None, progress: bool,
             desc: str, select: str | None = None) -> list[dict]:
    """Adam with a cosine schedule over random batches of ``n`` samples; validation every ``eval_every``.

    With ``select`` (a validation metric, higher is better) the model ends with the weights of its
    best validation, not its last; that entry of the history gets ``"selected": True``.
    """
    from tqdm.auto import tqdm

    rng = np.random.default_rng(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / config.steps)))
    history: list[dict] = []
    best: tuple[float, int, dict] | None = None
    bar = tqdm(range(1, config.steps + 1), desc=desc, disable=not progress)
    for step in bar:
        model.train()
        value = loss(rng.integers(n, size=config.batch_size))
        opt.zero_grad()
        value.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{float(value.detach()):.4f}")
        if log is not None and step % 50 == 0:
            log(step, {"loss": float(value.detach())})
        if step % config.eval_every == 0 or step == config.steps:
            metrics = {"step": step, **validate()}
            history.append(metrics)
            bar.write(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                                   if isinstance(v, float)))
            if log is not None:
                log(step, {f"val/{k}": v for k, v in metrics.items() if isinstance(v, float)})
            if select is not None and (best is None or metrics[select] > best[0]):
                best = (metrics[select], len(history) - 1, copy.deepcopy(model.state_dict()))
    if best is not None:
        model.load_state_dict(best[2])
        history[best[1]]["selected"] = True
    return history


class KeypointModel:
    """A :class:`HeatmapNet` with one heatmap per keypoint name; numpy in, pixels out."""

    def __init__(self, names: Sequence[str], norm: ImageNormalization, widths: Sequence[int] = (16, 32, 64),
                 net: HeatmapNet | None = None) -> None:
        self.names = list(names)
        self.unique, self.counts = channels(self.names)
        self.norm, self.widths = norm, list(widths)
        self.net = net or HeatmapNet(4, len(self.unique), self.widths)

    @torch.no_grad()
    def predict(self, rgb: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, H, W, 3) rgb, (B, H, W) depth -> keypoints (B, K, 2) pixels (NaN: not found), scores (B, K)."""
        self.net.eval()
        heat = torch.sigmoid(self.net(self.norm.inputs(rgb, depth))).numpy()
        out = np.full((len(rgb), len(self.names), 2), np.nan, np.float32)
        scores = np.zeros((len(rgb), len(self.names)), np.float32)
        for b in range(len(rgb)):
            for c, name in enumerate(self.unique):
                uv, s = find_peaks(heat[b, c], self.counts[c])
                slots = [k for k, n in enumerate(self.names) if n == name][:len(uv)]
                out[b, slots], scores[b, slots] = uv, s
        return out, scores

    def errors(self, pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
        """Pixel errors (B, K), sets of one name matched optimally; a missing keypoint is ``inf``."""
        err = np.zeros(truth.shape[:2], np.float32)
        for name in self.unique:
            slots = [k for k, n in enumerate(self.names) if n == name]
            for b in range(len(truth)):
                p = pred[b, slots]
                err[b, slots] = match_error(p[np.isfinite(p).all(axis=1)], truth[b, slots])
        return err

    def checkpoint(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A ``torch.save``-able dict that loads with ``weights_only=True`` (:func:`load_keypoints`)."""
        return {"format": CHECKPOINT_FORMAT, "version": 1, "names": self.names, "widths": self.widths,
                "normalization": asdict(self.norm), "extra": dict(extra or {}),
                "state_dict": self.net.state_dict()}


def target_maps(model: "KeypointModel", scenes: Mapping[str, np.ndarray], batch: np.ndarray,
                sigma: float) -> torch.Tensor:
    """Gaussian target maps (B, names, H/2, W/2) of the scenes ``batch``, one map per keypoint name."""
    h, w = scenes["image_depth"].shape[1] // 2, scenes["image_depth"].shape[2] // 2
    slots = [[k for k, n in enumerate(model.names) if n == name] for name in model.unique]
    kps = scenes["keypoints_px"]
    maps = [np.stack([gaussian_maps(kps[i][s], (h, w), sigma) for s in slots]) for i in batch]
    return torch.from_numpy(np.stack(maps))


def fit_keypoints(names: Sequence[str], train: Mapping[str, np.ndarray], val: Mapping[str, np.ndarray],
                  config: HeatmapTrainConfig, log: Callable | None = None,
                  progress: bool = True) -> tuple[KeypointModel, list[dict]]:
    """Train a keypoint model on a scene set; returns it and its validation history."""
    torch.manual_seed(config.seed)
    depth = train["image_depth"]
    if config.depth_max is not None:
        depth = np.minimum(depth, config.depth_max)
    center = float(depth.mean()) if config.depth_center is None else config.depth_center
    scale = float(depth.std() + 1e-6) if config.depth_scale is None else config.depth_scale
    model = KeypointModel(names, ImageNormalization(center, scale, config.depth_max), config.widths)

    def loss(batch: np.ndarray) -> torch.Tensor:
        logits = model.net(model.norm.inputs(train["image_rgb"][batch], train["image_depth"][batch]))
        return heatmap_loss(logits, target_maps(model, train, batch, config.sigma))

    history = fit_loop(model.net, config, loss, len(depth), lambda: evaluate_keypoints(model, val), log,
                       progress, "keypoints")
    return model, history


def evaluate_keypoints(model: KeypointModel, scenes: Mapping[str, np.ndarray],
                       thresholds: Sequence[float] = (1.0, 2.0, 3.0)) -> dict[str, Any]:
    """PCK (fraction of keypoints within t pixels) overall and per name, and the mean pixel error."""
    pred = np.concatenate([model.predict(scenes["image_rgb"][i:i + 64], scenes["image_depth"][i:i + 64])[0]
                           for i in range(0, len(scenes["image_rgb"]), 64)])
    err = model.errors(pred, scenes["keypoints_px"])
    out: dict[str, Any] = {f"pck@{t:g}px": float((err <= t).mean()) for t in thresholds}
    out["mean_error_px"] = float(np.mean(np.minimum(err, 96.0)))
    out["pck@3px_by_name"] = {n: float((err[:, [k for k, m in enumerate(model.names) if m == n]] <= 3).mean())
                              for n in model.unique}
    return out


def evaluate_lifting(model: KeypointModel, scenes: Mapping[str, np.ndarray], params: CameraParams) -> dict:
    """Mean 3-D error (metres) per keypoint name of the predicted keypoints lifted with depth.

    Sets (the cube corners) are matched in 3-D like in pixels. Scenes must come from the camera
    ``params`` describes (``keypoints_world`` holds the truth).
    """
    errors: dict[str, list[float]] = {n: [] for n in model.unique}
    for i in range(0, len(scenes["image_rgb"]), 64):
        pred, _ = model.predict(scenes["image_rgb"][i:i + 64], scenes["image_depth"][i:i + 64])
        for b in range(len(pred)):
            world = lift(pred[b], scenes["image_depth"][i + b], params)
            for name in model.unique:
                slots = [k for k, n in enumerate(model.names) if n == name]
                truth, p = scenes["keypoints_world"][i + b][slots], world[slots]
                best = min(np.linalg.norm(p[list(perm)] - truth, axis=1).mean()
                           for perm in itertools.permutations(range(len(slots))))
                errors[name].append(float(best))
    return {name: float(np.nanmean(e)) for name, e in errors.items()}


def lift(uv: np.ndarray, depth: np.ndarray, params: CameraParams) -> np.ndarray:
    """Pixels (K, 2) -> world points (K, 3), each with the smallest depth of its 3x3 neighbourhood.

    NaN pixels stay NaN.
    """
    h, w = depth.shape
    out = np.full((len(uv), 3), np.nan, np.float32)
    K, T = params.intrinsics, params.extrinsics
    for k, (u, v) in enumerate(np.asarray(uv, np.float64)):
        if not (np.isfinite(u) and np.isfinite(v)):
            continue
        col, row = min(max(int(u), 0), w - 1), min(max(int(v), 0), h - 1)
        z = float(depth[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2].min())
        cam = np.array([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z])
        out[k] = T[:3, :3] @ cam + T[:3, 3]
    return out


def load_keypoints(path: str) -> tuple[KeypointModel, dict[str, Any]]:
    """A keypoint model and its checkpoint's metadata from ``path`` (``weights_only=True``)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path} is not a keypoint checkpoint (expected format {CHECKPOINT_FORMAT!r}); "
                          "train one with scripts/train_perception.py model=keypoints")
    unique = list(dict.fromkeys(ckpt["names"]))
    net = HeatmapNet(4, len(unique), ckpt["widths"])
    net.load_state_dict(ckpt["state_dict"])
    model = KeypointModel(ckpt["names"], ImageNormalization(**ckpt["normalization"]), ckpt["widths"], net)
    return model, {k: v for k, v in ckpt.items() if k != "state_dict"}


class KeypointPerception:
    """Perception: one camera's rgb + depth -> ``keypoints_px`` (K, 2), ``keypoints_world`` (K, 3), kept keys.

    A keypoint whose name is unique also gets its own key ``<name>_keypoint`` (3,), world frame
    (e.g. ``cube_top_keypoint``, ``goal_keypoint``), so an agent can pick it by name.

    Lifting needs the camera's intrinsics and extrinsics: ``params`` if given (e.g. a jittered
    camera), else the nominal ones stored in the checkpoint. Keypoints not found are NaN in the
    pixel output and the last seen position in the world output.
    """

    name = "keypoints"

    def __init__(self, checkpoint: str, keep: Sequence[str] = ("proprio",),
                 params: CameraParams | None = None) -> None:
        self.checkpoint, self.keep = str(checkpoint), list(keep)
        self.model, self.meta = load_keypoints(self.checkpoint)
        extra = self.meta["extra"]
        self.camera, self.image_size = extra.get("camera", "top"), extra.get("image_size")
        stored = extra.get("camera_params")
        if params is None and stored is not None:
            params = CameraParams(np.asarray(stored["intrinsics"]), np.asarray(stored["extrinsics"]),
                                  stored["width"], stored["height"], stored["near"], stored["far"])
        if params is None:
            raise ConfigError(f"{self.checkpoint} stores no camera intrinsics/extrinsics and none were "
                              "given: pass params=env.unwrapped.camera_params(camera) to lift keypoints with "
                              "depth")
        self.params = params
        self.reset()

    def spec(self) -> dict[str, Any]:
        """What rebuilds this module (``perception.make_perception``)."""
        return {"name": self.name, "config": {"checkpoint": self.checkpoint, "keep": self.keep}}

    def reset(self) -> None:
        """Forget the last seen keypoints."""
        self._last = np.zeros((len(self.model.names), 3), np.float32)

    def __call__(self, obs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Features of one observation."""
        keys = [f"{self.camera}_rgb", f"{self.camera}_depth", *self.keep]
        if not isinstance(obs, Mapping) or any(k not in obs for k in keys):
            have = sorted(obs) if isinstance(obs, Mapping) else type(obs).__name__
            raise ObservationKeyError(f"KeypointPerception needs observation keys {keys}, got {have}; "
                                      f"make the env with obs_mode='rgb+depth' and camera {self.camera!r}")
        rgb, depth = np.asarray(obs[keys[0]]), np.asarray(obs[keys[1]])
        self.check_image_size(rgb.shape[0])
        uv, _ = self.model.predict(rgb[None], depth[None])
        world = lift(uv[0], depth, self.params)
        found = np.isfinite(world).all(axis=1)
        self._last[found] = world[found]
        out = {"keypoints_px": uv[0], "keypoints_world": self._last.copy()}
        for name, count in zip(self.model.unique, self.model.counts, strict=True):
            if count == 1:
                out[f"{name}_keypoint"] = self._last[self.model.names.index(name)].copy()
        out.update({k: np.asarray(obs[k]) for k in self.keep})
        return out

    def check_image_size(self, image_size: int) -> None:
        """Refuse an env whose images differ in size from the model's."""
        require_image_size("keypoint model", self.checkpoint, self.image_size, image_size)

    def observation_space(self, env_space: spaces.Space) -> spaces.Dict:
        """The feature space, given the env's (dict) observation space."""
        if not isinstance(env_space, spaces.Dict) or any(k not in env_space.spaces for k in self.keep):
            raise ObservationKeyError(f"KeypointPerception keeps {self.keep} but the env's observation space "
                                      f"is {env_space}")
        k = len(self.model.names)
        out: dict[str, spaces.Space] = {"keypoints_px": spaces.Box(-np.inf, np.inf, (k, 2), np.float32),
                                        "keypoints_world": spaces.Box(-np.inf, np.inf, (k, 3), np.float32)}
        for name, count in zip(self.model.unique, self.model.counts, strict=True):
            if count == 1:
                out[f"{name}_keypoint"] = spaces.Box(-np.inf, np.inf, (3,), np.float32)
        out.update({key: env_space[key] for key in self.keep})
        return spaces.Dict(out)
