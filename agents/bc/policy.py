"""The BC network: normalized observation -> MLP -> action (regression) or action logits (discrete)."""

from collections.abc import Sequence

import torch
from torch import nn

from agents.normalizer import Normalizer


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class BCPolicy(nn.Module):
    """Normalized obs (B, Do) -> MLP -> raw actions (B, Da), or logits (B, n) for n discrete actions.

    Continuous actions regress normalized targets with MSE (``action_norm`` set); discrete actions
    are classified with cross-entropy (``action_norm`` None, targets are integer indices).
    """

    def __init__(self, obs_dim: int, out_dim: int, hidden_sizes: Sequence[int],
                 obs_norm: Normalizer, action_norm: Normalizer | None) -> None:
        super().__init__()
        self.net = mlp([obs_dim, *hidden_sizes, out_dim])
        self.obs_norm, self.action_norm = obs_norm, action_norm

    @property
    def discrete(self) -> bool:
        """True when the head classifies discrete actions."""
        return self.action_norm is None

    def loss(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """MSE in normalized units, or cross-entropy against the (B, 1) action indices."""
        out = self.net(self.obs_norm.normalize(obs))
        if self.discrete:
            return nn.functional.cross_entropy(out, action.reshape(-1).long())
        return nn.functional.mse_loss(out, self.action_norm.normalize(action))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Raw observations (B, Do) -> raw actions (B, Da) or logits (B, n)."""
        out = self.net(self.obs_norm.normalize(obs))
        return out if self.discrete else self.action_norm.unnormalize(out)
