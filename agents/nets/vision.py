"""Image encoders trained end to end: a small CNN whose features are spatial-softmax keypoints.

Shapes: images come in as uint8 (B, H, W, 3), as cameras give them; features go out as
(B, 2K): the expected (x, y) image coordinates, in [-1, 1], of K learned keypoints (Levine et al.
2016, "End-to-end training of deep visuomotor policies"). An optional spatial transformer
(Jaderberg et al. 2015, ``perception/spatial_transformer.py``) first warps the image by a learned
affine map, initialized to identity.
Random-shift augmentation (Kostrikov et al. 2020, DrQ) is applied while training only.
"""

import torch
import torch.nn.functional as F
from torch import nn

from perception.spatial_transformer import SpatialTransformer


class SpatialSoftmax(nn.Module):
    """(B, C, H, W) feature maps -> (B, 2K) expected keypoint coordinates in [-1, 1]."""

    def __init__(self, channels: int, keypoints: int) -> None:
        super().__init__()
        self.project = nn.Conv2d(channels, keypoints, kernel_size=1)
        self.log_temperature = nn.Parameter(torch.zeros(1))

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """Softmax over each map's pixels, then the mean pixel position under it."""
        maps = self.project(maps)
        b, k, h, w = maps.shape
        weights = F.softmax(maps.reshape(b, k, h * w) / self.log_temperature.exp(), dim=-1)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h, device=maps.device),
                                torch.linspace(-1, 1, w, device=maps.device), indexing="ij")
        grid = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)  # (H*W, 2)
        return (weights @ grid).reshape(b, 2 * k)


class ImageEncoder(nn.Module):
    """uint8 (B, H, W, 3) -> (B, 2K) keypoint features: [STN] -> conv stack -> spatial softmax."""

    def __init__(self, keypoints: int = 16, channels: int = 32, spatial_transformer: bool = False) -> None:
        super().__init__()
        self.transformer = SpatialTransformer() if spatial_transformer else None
        self.convs = nn.Sequential(
            nn.Conv2d(3, channels // 2, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(channels // 2, channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.keypoints = SpatialSoftmax(channels, keypoints)
        self.out_dim = 2 * keypoints

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features of a batch of camera images."""
        x = images.permute(0, 3, 1, 2).float() / 255.0
        if self.transformer is not None:
            x = self.transformer(x)
        return self.keypoints(self.convs(x))


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ's augmentation on uint8 (B, H, W, C) images.

    Pad by ``pad`` edge pixels, crop back to (H, W) at a random offset per image.
    """
    if pad <= 0:
        return images
    b, h, w, _ = images.shape
    padded = F.pad(images.permute(0, 3, 1, 2).float(), (pad, pad, pad, pad), mode="replicate")
    offsets = torch.randint(0, 2 * pad + 1, (b, 2), generator=generator).tolist()
    crops = torch.stack([p[:, y:y + h, x:x + w] for p, (y, x) in zip(padded, offsets, strict=True)])
    return crops.to(images.dtype).permute(0, 2, 3, 1)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with GroupNorm (batch-size independent, EMA-safe) and a skip."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.GroupNorm(8, c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.GroupNorm(8, c_out))
        self.skip = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.GroupNorm(8, c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) -> (B, C_out, H / stride, W / stride)."""
        return torch.relu(self.body(x) + self.skip(x))


class ResNetEncoder(nn.Module):
    """uint8 (B, H, W, 3) -> (B, 2K): a small ResNet-style CNN with GroupNorm, then spatial softmax.

    Diffusion Policy's image encoder in miniature: ResNet blocks with BatchNorm replaced by
    GroupNorm, global pooling replaced by spatial-softmax keypoints.
    """

    def __init__(self, keypoints: int = 32, channels: int = 32) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 5, stride=2, padding=2, bias=False),
                                  nn.GroupNorm(8, channels), nn.ReLU())
        self.blocks = nn.Sequential(ResidualBlock(channels, channels, 1),
                                    ResidualBlock(channels, 2 * channels, 2),
                                    ResidualBlock(2 * channels, 2 * channels, 1))
        self.keypoints = SpatialSoftmax(2 * channels, keypoints)
        self.out_dim = 2 * keypoints

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features of a batch of camera images."""
        return self.keypoints(self.blocks(self.stem(images.permute(0, 3, 1, 2).float() / 255.0)))


def random_crop(images: torch.Tensor, margin: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, H, W, C) -> (B, H - 2m, W - 2m, C) cropped at a random offset per image (training)."""
    if margin <= 0:
        return images
    b, h, w, _ = images.shape
    offsets = torch.randint(0, 2 * margin + 1, (b, 2), generator=generator).tolist()
    return torch.stack([im[y:y + h - 2 * margin, x:x + w - 2 * margin] for im, (y, x) in zip(images, offsets,
                                                                                           strict=True)])


def center_crop(images: torch.Tensor, margin: int) -> torch.Tensor:
    """(B, H, W, C) -> (B, H - 2m, W - 2m, C), the middle (acting)."""
    if margin <= 0:
        return images
    return images[:, margin:images.shape[1] - margin, margin:images.shape[2] - margin]
