"""A spatial transformer (Jaderberg et al., 2015): a learned affine warp of an image, inside an encoder.

A small localization network reads the image and predicts a 2x3 affine matrix ``theta`` per image;
``torch.nn.functional.affine_grid`` turns it into a sampling grid (normalized coordinates, x then
y, in [-1, 1]; ``align_corners=False``) and ``grid_sample`` resamples the image bilinearly, edge
pixels repeated outside it. The last layer starts at zero weights and the identity bias, so a new
transformer passes images through unchanged and learns to crop, zoom or shift only as far as the
loss asks. ``warp(images, theta)`` applies a given ``theta`` (output pixel at normalized ``p`` reads
the input at ``theta @ [p, 1]``: a positive ``theta[:, 0, 2]`` shifts the content left).
"""

import torch
import torch.nn.functional as F
from torch import nn

from envs.errors import ConfigError

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample (B, C, H, W) images through (B, 2, 3) affine maps; same shape out."""
    if images.dim() != 4 or theta.shape != (images.shape[0], 2, 3):
        raise ConfigError(f"warp needs images (B, C, H, W) and theta (B, 2, 3), got {tuple(images.shape)} "
                          f"and {tuple(theta.shape)}")
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, padding_mode="border", align_corners=False)


class SpatialTransformer(nn.Module):
    """(B, C, H, W) images -> the same images warped by a learned per-image affine map (identity at start)."""

    def __init__(self, in_channels: int = 3, hidden: int = 8) -> None:
        super().__init__()
        if in_channels < 1 or hidden < 1:
            raise ConfigError(f"SpatialTransformer needs in_channels and hidden >= 1, got {in_channels} "
                              f"and {hidden}")
        self.locate = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 5, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(hidden * 16, 6))
        nn.init.zeros_(self.locate[-1].weight)
        with torch.no_grad():
            self.locate[-1].bias.copy_(torch.tensor(IDENTITY))

    def theta(self, images: torch.Tensor) -> torch.Tensor:
        """The predicted affine maps (B, 2, 3)."""
        return self.locate(images).reshape(-1, 2, 3)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The warped images, same shape."""
        return warp(images, self.theta(images))
