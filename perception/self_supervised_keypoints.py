"""Self-supervised keypoints: a spatial-softmax autoencoder with a Gaussian-map decoder (Jakab et al., 2018).

No labels. Two frames of the same episode: the *reference* (its first frame) and the *target*.
The keypoint encoder turns the target into K points (spatial softmax over K maps); the decoder
must rebuild the target from the reference frame's features concatenated with K Gaussian maps
rendered at those points. What is the same in both frames (table, goal, lighting) comes from the
reference; what moved (pusher, cube) can only come through the keypoints, so they go where the
moving things are. A decoder that reads the keypoints linearly (an earlier attempt) cannot do
this and located objects only to 5.8 cm.

Shapes: images (B, 4, H, W) rgb + depth (``perception/heatmap.py: ImageNormalization``), H and W
divisible by 4; keypoints (B, K, 2) as ``(x, y)`` in [-1, 1] (``x`` along the width; pixel
``u = (x + 1) / 2 * W``). :func:`linear_probe` scores them: a least-squares map from keypoints to
true positions, fitted on one scene set and tested on another, against predicting the mean.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from envs.errors import ConfigError
from perception.heatmap import ImageNormalization, conv

CHECKPOINT_FORMAT = "roboloop.perception.self_supervised_keypoints"


@dataclass
class SelfSupervisedConfig:
    """One self-supervised keypoint run."""

    keypoints: int = 8  # K
    width: int = 32  # the encoders' base width
    sigma: float = 0.1  # the rendered Gaussians' width, in [-1, 1] image coordinates
    steps: int = 1500  # gradient steps
    batch_size: int = 16  # frame pairs per step
    lr: float = 1e-3  # Adam learning rate, cosine-decayed to 0
    seed: int = 0  # torch / numpy seed

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        for name in ("keypoints", "width", "sigma", "steps", "batch_size", "lr"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"SelfSupervisedConfig.{name} must be > 0, got {getattr(self, name)}")


def spatial_softmax(maps: torch.Tensor) -> torch.Tensor:
    """(B, K, h, w) maps -> (B, K, 2) expected ``(x, y)`` in [-1, 1] under each map's softmax."""
    b, k, h, w = maps.shape
    weights = torch.softmax(maps.reshape(b, k, h * w), dim=-1).reshape(b, k, h, w)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=maps.device)
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=maps.device)
    return torch.stack([(weights.sum(2) * xs).sum(-1), (weights.sum(3) * ys).sum(-1)], dim=-1)


def gaussian_render(keypoints: torch.Tensor, shape: tuple[int, int], sigma: float) -> torch.Tensor:
    """(B, K, 2) keypoints -> (B, K, h, w) isotropic Gaussians of ``sigma`` (normalized units), peak 1."""
    h, w = shape
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=keypoints.device)
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=keypoints.device)
    dx = (xs[None, None, None, :] - keypoints[..., 0, None, None]) ** 2
    dy = (ys[None, None, :, None] - keypoints[..., 1, None, None]) ** 2
    return torch.exp(-(dx + dy) / (2 * sigma ** 2))


def encoder(channels: int, width: int) -> nn.Sequential:
    """(B, channels, H, W) -> (B, 2 width, H/4, W/4)."""
    return nn.Sequential(conv(channels, width, 2), conv(width, width), conv(width, 2 * width, 2),
                         conv(2 * width, 2 * width))


class KeypointAutoencoder(nn.Module):
    """Keypoint encoder, reference-frame feature encoder, and the decoder that rebuilds the target."""

    def __init__(self, channels: int = 4, keypoints: int = 8, width: int = 32, sigma: float = 0.1) -> None:
        super().__init__()
        self.sigma = sigma
        self.keypoint_net = nn.Sequential(encoder(channels, width), nn.Conv2d(2 * width, keypoints, 1))
        self.feature_net = encoder(channels, width)
        self.decoder = nn.Sequential(
            conv(2 * width + keypoints, 2 * width), conv(2 * width, 2 * width), nn.Upsample(scale_factor=2.0),
            conv(2 * width, width), nn.Upsample(scale_factor=2.0), conv(width, width),
            nn.Conv2d(width, channels, 1))

    def keypoints(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, K, 2) keypoints in [-1, 1]."""
        if images.shape[-1] % 4 or images.shape[-2] % 4:
            raise ConfigError("KeypointAutoencoder needs H and W divisible by 4, got "
                              f"{tuple(images.shape[-2:])}")
        return spatial_softmax(self.keypoint_net(images))

    def forward(self, reference: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The reconstruction of ``target`` and its keypoints."""
        kp = self.keypoints(target)
        features = self.feature_net(reference)
        maps = gaussian_render(kp, features.shape[-2:], self.sigma)
        return self.decoder(torch.cat([features, maps], dim=1)), kp


def frame_pairs(episodes: np.ndarray, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs (reference, target) of scene indices: an episode's first scene and a random scene of it."""
    episodes = np.asarray(episodes)
    first = {e: int(np.flatnonzero(episodes == e)[0]) for e in np.unique(episodes)}
    target = rng.integers(len(episodes), size=n)
    return np.array([first[e] for e in episodes[target]]), target


class SelfSupervisedKeypoints:
    """A trained :class:`KeypointAutoencoder` with its image normalization; numpy in, keypoints out."""

    def __init__(self, net: KeypointAutoencoder, norm: ImageNormalization,
                 config: SelfSupervisedConfig) -> None:
        self.net, self.norm, self.config = net, norm, config

    @torch.no_grad()
    def predict(self, rgb: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """(B, H, W, 3) uint8 rgb, (B, H, W) depth -> (B, K, 2) keypoints in [-1, 1]."""
        self.net.eval()
        return np.concatenate([self.net.keypoints(self.norm.inputs(rgb[i:i + 64], depth[i:i + 64])).numpy()
                               for i in range(0, len(rgb), 64)])

    def checkpoint(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A ``torch.save``-able dict that loads with ``weights_only=True``."""
        return {"format": CHECKPOINT_FORMAT, "version": 1, "config": asdict(self.config),
                "normalization": asdict(self.norm), "extra": dict(extra or {}),
                "state_dict": self.net.state_dict()}


def fit_self_supervised(scenes: Mapping[str, np.ndarray], episodes: np.ndarray, config: SelfSupervisedConfig,
                        log: Callable | None = None,
                        progress: bool = True) -> tuple[SelfSupervisedKeypoints, list]:
    """Train on ``image_rgb`` / ``image_depth`` frame pairs of the same episode (``episodes`` per scene).

    Returns the model and the loss every 50 steps. Only images are read: no labels.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    depth = scenes["image_depth"]
    norm = ImageNormalization(float(depth.mean()), float(depth.std() + 1e-6))
    net = KeypointAutoencoder(4, config.keypoints, config.width, config.sigma)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / config.steps)))
    history = []
    bar = tqdm(range(1, config.steps + 1), desc="self-supervised keypoints", disable=not progress)
    for step in bar:
        net.train()
        ref, tgt = frame_pairs(episodes, rng, config.batch_size)
        reference = norm.inputs(scenes["image_rgb"][ref], depth[ref])
        target = norm.inputs(scenes["image_rgb"][tgt], depth[tgt])
        recon, _ = net(reference, target)
        loss = nn.functional.mse_loss(recon, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        if step % 50 == 0 or step == config.steps:
            history.append({"step": step, "loss": float(loss.detach())})
            if log is not None:
                log(step, {"loss": float(loss.detach())})
    return SelfSupervisedKeypoints(net, norm, config), history


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                 test_y: np.ndarray) -> dict[str, float]:
    """Least squares (with a bias) from features to positions, fitted on train and scored on test.

    ``*_x`` (N, F) features (e.g. flattened keypoints), ``*_y`` (N, D) positions. Returns the mean
    Euclidean test error of the probe and of predicting the train mean, and R^2 on test.
    """
    a = np.c_[train_x, np.ones(len(train_x))]
    w, *_ = np.linalg.lstsq(a, train_y, rcond=None)
    pred = np.c_[test_x, np.ones(len(test_x))] @ w
    mean = train_y.mean(axis=0)
    err = np.linalg.norm(pred - test_y, axis=1)
    base = np.linalg.norm(mean - test_y, axis=1)
    r2 = 1.0 - ((pred - test_y) ** 2).sum() / ((test_y - test_y.mean(axis=0)) ** 2).sum()
    return {"probe_error": float(err.mean()), "mean_error": float(base.mean()), "r2": float(r2)}
