"""PointNet (Qi et al., CVPR 2017) as published, small enough for a CPU.

A shared per-point MLP lifts every point to a feature, a symmetric max-pool over points gives the
cloud's global feature, so the output does not depend on the order of the points. Two T-Nets
predict alignment matrices: a 3x3 one applied to the input coordinates and a ``F x F`` one applied
to the per-point features after the first MLP; the latter is kept near orthogonal by the
regulariser ``||I - A A^T||_F^2``. Heads:

- **classification**: global feature -> class logits of the whole cloud (e.g. one object's points);
- **segmentation**: per-point [local feature, global feature] -> per-point class logits;
- **centroid**: the same per-point features -> an offset from each point to the centroid of the
  object it belongs to; an object's centroid is the mean of ``point + offset`` over the points
  segmented as that object (a vote, far more precise than regressing from the global feature).

Shapes: ``B`` clouds, ``N`` points, ``C`` input channels per point (xyz first, then e.g. rgb).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from envs.errors import ConfigError


@dataclass
class PointNetConfig:
    """Widths and heads of a PointNet."""

    in_channels: int = 6  # C: xyz + rgb (xyz must come first: the input T-Net aligns it)
    local_widths: list[int] = field(default_factory=lambda: [64, 64])  # MLP before the feature T-Net
    global_widths: list[int] = field(default_factory=lambda: [64, 128, 256])  # MLP up to the max-pool
    head_widths: list[int] = field(default_factory=lambda: [128, 64])  # each head's hidden widths
    tnet_widths: list[int] = field(default_factory=lambda: [64, 128, 256])  # each T-Net's shared MLP
    seg_classes: int = 0  # per-point classes (0: no segmentation or centroid head)
    cls_classes: int = 0  # whole-cloud classes (0: no classification head)
    input_transform: bool = True  # the 3x3 input T-Net
    feature_transform: bool = True  # the F x F feature T-Net (with the orthogonality regulariser)

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        if self.in_channels < 3:
            raise ConfigError(f"PointNetConfig.in_channels must be >= 3 (xyz first), got {self.in_channels}")
        for name in ("local_widths", "global_widths", "head_widths", "tnet_widths"):
            widths = list(getattr(self, name))
            if not widths or min(widths) < 1:
                raise ConfigError(f"PointNetConfig.{name} must be a non-empty list of widths >= 1, "
                                  f"got {widths}")
            setattr(self, name, widths)
        if self.seg_classes < 0 or self.cls_classes < 0 or self.seg_classes + self.cls_classes == 0:
            raise ConfigError(f"PointNetConfig needs a head: seg_classes={self.seg_classes}, "
                              f"cls_classes={self.cls_classes}; set either > 0")


def shared_mlp(widths: list[int], last_activation: bool = True) -> nn.Sequential:
    """A per-point MLP as 1x1 convolutions over (B, C, N), with batch norm and ReLU."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Conv1d(a, b, 1))
        if last_activation or i < len(widths) - 2:
            layers += [nn.BatchNorm1d(b), nn.ReLU()]
    return nn.Sequential(*layers)


class TNet(nn.Module):
    """Predicts a (B, k, k) transform from a (B, k, N) cloud: shared MLP, max-pool, MLP, + identity."""

    def __init__(self, k: int, widths: Sequence[int] = (64, 128, 256)) -> None:
        super().__init__()
        self.k = k
        self.features = shared_mlp([k, *widths])
        hidden = max(widths[-1] // 2, 16)
        self.regress = nn.Sequential(nn.Linear(widths[-1], hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                     nn.Linear(hidden, k * k))
        nn.init.zeros_(self.regress[-1].weight)  # start at the identity
        nn.init.zeros_(self.regress[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, k, N) -> (B, k, k)."""
        g = self.features(x).max(dim=2).values
        eye = torch.eye(self.k, device=x.device, dtype=x.dtype)
        return self.regress(g).view(-1, self.k, self.k) + eye


def orthogonality_loss(transform: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``||I - A A^T||_F^2`` for (B, k, k) transforms ``A``."""
    eye = torch.eye(transform.shape[1], device=transform.device, dtype=transform.dtype)
    diff = eye - transform @ transform.transpose(1, 2)
    return diff.pow(2).sum(dim=(1, 2)).mean()


class PointNet(nn.Module):
    """PointNet with classification, segmentation and centroid-offset heads (see the module docstring)."""

    def __init__(self, config: PointNetConfig) -> None:
        super().__init__()
        self.config = c = config
        self.input_tnet = TNet(3, c.tnet_widths) if c.input_transform else None
        self.local = shared_mlp([c.in_channels, *c.local_widths])
        f = c.local_widths[-1]
        self.feature_tnet = TNet(f, c.tnet_widths) if c.feature_transform else None
        self.global_mlp = shared_mlp([f, *c.global_widths])
        g = c.global_widths[-1]
        self.classify = None
        if c.cls_classes:
            layers: list[nn.Module] = []
            for a, b in zip([g, *c.head_widths[:-1]], c.head_widths, strict=True):
                layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()]
            self.classify = nn.Sequential(*layers, nn.Dropout(0.3),
                                          nn.Linear(c.head_widths[-1], c.cls_classes))
        self.segment = self.offset = None
        if c.seg_classes:
            widths = [f + g, *c.head_widths]
            self.segment = nn.Sequential(shared_mlp(widths), nn.Conv1d(widths[-1], c.seg_classes, 1))
            self.offset = nn.Sequential(shared_mlp(widths), nn.Conv1d(widths[-1], 3, 1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, N, C) points -> dict of heads.

        ``cls_logits`` (B, K), ``seg_logits`` (B, N, S), ``offsets`` (B, N, 3) for the heads that
        exist; ``feature_transform`` (B, F, F) when the feature T-Net is on; ``global`` (B, G).
        """
        if x.dim() != 3 or x.shape[2] != self.config.in_channels:
            raise ConfigError(f"PointNet expects (B, N, {self.config.in_channels}) points, got "
                              f"{tuple(x.shape)}")
        x = x.transpose(1, 2)  # (B, C, N)
        if self.input_tnet is not None:
            xyz = torch.bmm(self.input_tnet(x[:, :3]).transpose(1, 2), x[:, :3])
            x = torch.cat([xyz, x[:, 3:]], dim=1)
        local = self.local(x)
        out: dict[str, torch.Tensor] = {}
        if self.feature_tnet is not None:
            transform = self.feature_tnet(local)
            local = torch.bmm(transform.transpose(1, 2), local)
            out["feature_transform"] = transform
        glob = self.global_mlp(local).max(dim=2).values  # the symmetric function
        out["global"] = glob
        if self.classify is not None:
            out["cls_logits"] = self.classify(glob)
        if self.segment is not None:
            both = torch.cat([local, glob[:, :, None].expand(-1, -1, local.shape[2])], dim=1)
            out["seg_logits"] = self.segment(both).transpose(1, 2)
            out["offsets"] = self.offset(both).transpose(1, 2)
        return out


def vote_centroids(xyz: torch.Tensor, offsets: torch.Tensor, labels: torch.Tensor,
                   classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class centroids (B, S, 3) as the mean of ``xyz + offsets`` over points labelled that class.

    ``xyz``, ``offsets`` (B, N, 3), ``labels`` (B, N) int. Also returns the point counts (B, S); a
    class with no point gets a NaN centroid, so a caller cannot mistake it for a position.
    """
    onehot = nn.functional.one_hot(labels.long(), classes).to(xyz.dtype)  # (B, N, S)
    counts = onehot.sum(dim=1)  # (B, S)
    sums = onehot.transpose(1, 2) @ (xyz + offsets)  # (B, S, 3)
    centroids = sums / counts.clamp(min=1)[:, :, None]
    centroids = torch.where(counts[:, :, None] > 0, centroids, torch.full_like(centroids, float("nan")))
    return centroids, counts
