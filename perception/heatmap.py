"""A small encoder-decoder that turns an image into maps at half resolution, and peak finding on them.

Shared by the keypoint model (one heatmap per keypoint name) and the detector (one centre heatmap
per class, plus box size and centre offset maps). Input: rgb and depth of one camera, (B, 4, H, W);
output: (B, Cout, H/2, W/2). Output cell ``(i, j)`` covers input pixels ``[2j, 2j + 2)`` by
``[2i, 2i + 2)``, so its centre is pixel coordinate ``(2j + 1, 2i + 1)`` (pixel centres at +0.5).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from envs.errors import ConfigError

STRIDE = 2


def conv(a: int, b: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return nn.Sequential(nn.Conv2d(a, b, 3, stride, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU())


class HeatmapNet(nn.Module):
    """(B, Cin, H, W) -> (B, Cout, H/2, W/2): three strided stages down, two up with skips (a tiny U-Net)."""

    def __init__(self, in_channels: int, out_channels: int, widths: Sequence[int] = (16, 32, 64)) -> None:
        super().__init__()
        a, b, c = widths
        self.down1 = nn.Sequential(conv(in_channels, a, 2), conv(a, a))
        self.down2 = nn.Sequential(conv(a, b, 2), conv(b, b))
        self.down3 = nn.Sequential(conv(b, c, 2), conv(c, c))
        self.up2 = conv(c + b, b)
        self.up1 = conv(b + a, a)
        self.head = nn.Sequential(conv(a, a), nn.Conv2d(a, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Maps at half the input resolution (H and W must be divisible by 8)."""
        return self.forward_with_features(x)[0]

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The maps and the encoder's bottleneck features (B, widths[2], H/8, W/8).

        The bottleneck is what a domain classifier reads (``perception/domain_adaptation.py``).
        """
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ConfigError(f"HeatmapNet needs H and W divisible by 8, got {tuple(x.shape[-2:])}")
        d1 = self.down1(x)
        d2 = self.down2(d1)
        d3 = self.down3(d2)
        u2 = self.up2(torch.cat([nn.functional.interpolate(d3, scale_factor=2.0), d2], dim=1))
        u1 = self.up1(torch.cat([nn.functional.interpolate(u2, scale_factor=2.0), d1], dim=1))
        return self.head(u1), d3


@dataclass(frozen=True)
class ImageNormalization:
    """rgb enters as ``rgb / 255 - 0.5`` and depth as ``(depth - depth_center) / depth_scale``.

    With ``depth_max``, depth is first clipped to it (pixels past the workspace, e.g. a jittered
    camera seeing beyond the table, then do not dominate the input).
    """

    depth_center: float
    depth_scale: float
    depth_max: float | None = None

    def inputs(self, rgb: np.ndarray, depth: np.ndarray) -> torch.Tensor:
        """Images (B, H, W, 3) uint8 and depth (B, H, W) metres -> (B, 4, H, W) float32."""
        if rgb.shape[:-1] != depth.shape or rgb.shape[-1] != 3:
            raise ConfigError(f"rgb {rgb.shape} and depth {depth.shape} must be (B, H, W, 3) and (B, H, W) "
                              "from the same camera")
        d = np.asarray(depth, np.float32)
        if self.depth_max is not None:
            d = np.minimum(d, self.depth_max)
        d = (d - self.depth_center) / self.depth_scale
        x = np.concatenate([np.asarray(rgb, np.float32) / 255.0 - 0.5, d[..., None]], axis=-1)
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def gaussian_maps(points: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """(h, w) map: at each output cell the max over ``points`` (P, 2) pixels of a Gaussian of ``sigma`` px."""
    h, w = shape
    cu, cv = (np.arange(w) + 0.5) * STRIDE, (np.arange(h) + 0.5) * STRIDE
    out = np.zeros(shape, np.float32)
    for u, v in np.asarray(points, np.float32).reshape(-1, 2):
        g = np.exp(-((cu[None, :] - u) ** 2 + (cv[:, None] - v) ** 2) / (2 * sigma ** 2))
        out = np.maximum(out, g.astype(np.float32))
    return out


def heatmap_loss(logits: torch.Tensor, target: torch.Tensor, positive_weight: float = 20.0) -> torch.Tensor:
    """Binary cross-entropy against Gaussian targets, weighted up near the peaks (they are few)."""
    weight = 1.0 + positive_weight * target
    return (nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none") * weight).mean()


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0,
               beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss: cells where ``target == 1`` are the objects' centres.

    Confident wrong peaks (another class's object, a neighbour) cost much more than under plain
    cross-entropy, which is what makes class maps class-specific. Normalized by the number of centres.
    """
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.ge(1.0 - 1e-6).to(logits.dtype)
    pos_loss = -torch.log(p) * (1 - p) ** alpha * pos
    neg_loss = -torch.log(1 - p) * p ** alpha * (1 - target) ** beta * (1 - pos)
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


def find_peaks(heat: np.ndarray, k: int, threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` strongest local maxima of one (h, w) map of probabilities, refined to sub-cell precision.

    Returns pixel coordinates (n, 2) ``(u, v)`` in the input image and their scores (n,), n <= k,
    best first; only maxima above ``threshold``. A maximum is a cell no smaller than its 8
    neighbours (of a plateau, only the first); its position is the score-weighted mean of its 3x3
    neighbourhood.
    """
    h, w = heat.shape
    padded = np.pad(heat, 1, constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3))
    is_max = heat >= windows.max(axis=(2, 3))
    scores = np.where(is_max & (heat > threshold), heat, -np.inf).ravel()
    order = np.argsort(-scores, kind="stable")
    order = order[np.isfinite(scores[order])]
    uv, out_scores, taken = [], [], []
    for idx in order:
        i, j = divmod(int(idx), w)
        if len(taken) == k:
            break
        if any(abs(i - a) <= 1 and abs(j - b) <= 1 for a, b in taken):
            continue  # the other half of a plateau
        taken.append((i, j))
        i0, i1, j0, j1 = max(i - 1, 0), min(i + 2, h), max(j - 1, 0), min(j + 2, w)
        patch = heat[i0:i1, j0:j1]
        ii, jj = np.mgrid[i0:i1, j0:j1]
        total = patch.sum()
        ci, cj = (ii * patch).sum() / total, (jj * patch).sum() / total
        uv.append(((cj + 0.5) * STRIDE, (ci + 0.5) * STRIDE))
        out_scores.append(heat[i, j])
    return np.asarray(uv, np.float32).reshape(-1, 2), np.asarray(out_scores, np.float32)
