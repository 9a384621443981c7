"""Action heads: what a policy network outputs and how it is trained and read.

``MSEHead`` regresses the (normalized) action chunk. ``MixtureHead`` models it as a mixture of
K diagonal Gaussians (Bishop 1994; robomimic's GMM policies), trained by negative
log-likelihood, so two valid actions for one observation stay two modes instead of averaging
into an invalid one; acting takes the mean of the most probable component. Shapes: features
(B, F) in, actions (B, Tp, Da) normalized, ``is_pad`` (B, Tp) marks padded chunk steps.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


class MSEHead(nn.Module):
    """One linear layer to the chunk; masked mean squared error."""

    def __init__(self, in_dim: int, horizon: int, action_dim: int) -> None:
        super().__init__()
        self.horizon, self.action_dim = horizon, action_dim
        self.linear = nn.Linear(in_dim, horizon * action_dim)

    def loss(self, features: torch.Tensor, actions: torch.Tensor, is_pad: torch.Tensor) -> torch.Tensor:
        """Mean squared error over the chunk's real (unpadded) steps."""
        error = (self.predict(features) - actions).square().mean(-1)  # (B, Tp)
        keep = (~is_pad).float()
        return (error * keep).sum() / keep.sum().clamp(min=1.0)

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """(B, Tp, Da)."""
        return self.linear(features).reshape(-1, self.horizon, self.action_dim)


class MixtureHead(nn.Module):
    """K diagonal Gaussians over the flattened chunk; NLL loss; the most probable mean to act."""

    def __init__(self, in_dim: int, horizon: int, action_dim: int, components: int) -> None:
        super().__init__()
        self.horizon, self.action_dim, self.k = horizon, action_dim, components
        self.d = horizon * action_dim
        self.linear = nn.Linear(in_dim, components * (1 + 2 * self.d))

    def _split(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.linear(features)
        logits = out[:, :self.k]
        means = out[:, self.k:self.k * (1 + self.d)].reshape(-1, self.k, self.d)
        log_std = out[:, self.k * (1 + self.d):].reshape(-1, self.k, self.d).clamp(-5.0, 2.0)
        return logits, means, log_std

    def loss(self, features: torch.Tensor, actions: torch.Tensor, is_pad: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of the chunk (padded steps left out of each Gaussian)."""
        logits, means, log_std = self._split(features)
        target = actions.reshape(-1, 1, self.d)
        keep = (~is_pad).float().repeat_interleave(self.action_dim, dim=1)[:, None]  # (B, 1, d)
        z = (target - means) / log_std.exp()
        log_prob = -(0.5 * z.square() + log_std + 0.5 * math.log(2 * math.pi))
        per_component = (log_prob * keep).sum(-1)  # (B, K)
        return -torch.logsumexp(F.log_softmax(logits, -1) + per_component, dim=-1).mean()

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """(B, Tp, Da): the mean of each sample's most probable component."""
        logits, means, _ = self._split(features)
        best = logits.argmax(-1)
        return means[torch.arange(len(best)), best].reshape(-1, self.horizon, self.action_dim)
