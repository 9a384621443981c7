"""The default denoiser: a 1-D temporal convolutional U-Net with FiLM conditioning.

As in Diffusion Policy (Chi et al. 2023, ``ConditionalUnet1D``): the action chunk (B, Tp, Da) is
a Da-channel signal over Tp time steps. Each residual block convolves it (GroupNorm, Mish) and is
modulated by FiLM (a per-channel scale and bias) computed from the condition: the diffusion step's
sinusoidal embedding concatenated with the observation features. The chunk is halved in time at
every level but the last, and skip connections join the matching levels on the way up.
"""

import math

import torch
from torch import nn


class StepEmbedding(nn.Module):
    """Diffusion step t (B,) -> (B, dim): sinusoidal features, then an MLP."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.Mish(), nn.Linear(4 * dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Embed integer steps or continuous times (flow matching passes s * 1000)."""
        half = self.dim // 2
        steps = torch.arange(half, dtype=torch.float32, device=t.device)
        freqs = torch.exp(steps * (-math.log(10000) / (half - 1)))
        angles = t.float().reshape(-1, 1) * freqs
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=-1))


def conv_block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """Conv1d -> GroupNorm -> Mish, length-preserving."""
    return nn.Sequential(nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2),
                         nn.GroupNorm(min(8, c_out), c_out), nn.Mish())


class FiLMResidualBlock(nn.Module):
    """Two conv blocks; the condition scales and shifts the first one's output per channel."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, kernel: int) -> None:
        super().__init__()
        self.block1, self.block2 = conv_block(c_in, c_out, kernel), conv_block(c_out, c_out, kernel)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * c_out))
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """X (B, C_in, T), cond (B, cond_dim) -> (B, C_out, T)."""
        scale, bias = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        return self.block2(self.block1(x) * scale + bias) + self.skip(x)


class ConditionalUnet1D(nn.Module):
    """(noisy chunk (B, Tp, Da), step (B,), observation features (B, F)) -> (B, Tp, Da)."""

    def __init__(self, action_dim: int, cond_dim: int, down_dims: list[int], kernel: int = 5,
                 step_embed_dim: int = 64) -> None:
        super().__init__()
        self.step_embedding = StepEmbedding(step_embed_dim)
        c = step_embed_dim + cond_dim
        dims = [action_dim, *down_dims]
        levels = list(zip(dims[:-1], dims[1:], strict=True))
        self.down = nn.ModuleList()
        for i, (a, b) in enumerate(levels):
            last = i == len(levels) - 1
            self.down.append(nn.ModuleList([
                FiLMResidualBlock(a, b, c, kernel), FiLMResidualBlock(b, b, c, kernel),
                nn.Identity() if last else nn.Conv1d(b, b, 3, stride=2, padding=1)]))
        mid = down_dims[-1]
        self.mid = nn.ModuleList([FiLMResidualBlock(mid, mid, c, kernel) for _ in range(2)])
        self.up = nn.ModuleList()
        for a, b in reversed(levels[1:]):  # each level up doubles the length back
            self.up.append(nn.ModuleList([
                FiLMResidualBlock(2 * b, a, c, kernel), FiLMResidualBlock(a, a, c, kernel),
                nn.ConvTranspose1d(a, a, 4, stride=2, padding=1)]))
        self.final = nn.Sequential(conv_block(down_dims[0], down_dims[0], kernel),
                                   nn.Conv1d(down_dims[0], action_dim, 1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The denoiser's output (epsilon, x_0 or a velocity) for every chunk of the batch."""
        c = torch.cat([self.step_embedding(t), cond], dim=-1)
        h = x.transpose(1, 2)  # (B, Da, Tp): time is the convolved axis
        skips = []
        for block1, block2, downsample in self.down:
            h = block2(block1(h, c), c)
            skips.append(h)
            h = downsample(h)
        for block in self.mid:
            h = block(h, c)
        for block1, block2, upsample in self.up:
            h = torch.cat([h, skips.pop()], dim=1)
            h = upsample(block2(block1(h, c), c))
        return self.final(h).transpose(1, 2)
