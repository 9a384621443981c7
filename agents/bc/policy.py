"""The BC network and the agent that wraps it behind the loop's numpy ``act`` interface."""

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.bc.config import BCConfig
from agents.checkpoint import load_checkpoint, save_checkpoint
from agents.features import flatten_features
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
    """Normalized obs (B, Do) -> MLP -> unnormalized action (B, Da)."""

    def __init__(self, obs_dim: int, action_dim: int, cfg: BCConfig,
                 obs_norm: Normalizer, action_norm: Normalizer) -> None:
        super().__init__()
        self.net = mlp([obs_dim, *cfg.hidden_sizes, action_dim])
        self.obs_norm, self.action_norm = obs_norm, action_norm

    def loss(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """MSE between predicted and demonstrated actions, in normalized units."""
        pred = self.net(self.obs_norm.normalize(obs))
        return nn.functional.mse_loss(pred, self.action_norm.normalize(action))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Raw observations (B, Do) -> raw actions (B, Da)."""
        return self.action_norm.unnormalize(self.net(self.obs_norm.normalize(obs)))


class BCAgent:
    """Loop-facing BC agent: numpy features in, clipped numpy action (Da,) out."""

    def __init__(self, policy: BCPolicy, cfg: BCConfig, meta: dict[str, Any]) -> None:
        self.policy, self.cfg, self.meta = policy.eval(), cfg, meta

    def reset(self) -> None:
        """Memoryless policy: nothing to clear."""

    @torch.no_grad()
    def act(self, features: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """Action (Da,) float32 in [-1, 1] for one observation."""
        obs = torch.from_numpy(flatten_features(features, self.cfg.obs_keys))[None]
        return self.policy(obs)[0].clamp(-1.0, 1.0).numpy()

    def save(self, path: str | Path) -> Path:
        """Atomic, weights-only checkpoint carrying config, normalizers and provenance."""
        return save_checkpoint(path, "bc", {
            "config": asdict(self.cfg),
            "dims": {"obs": self.policy.net[0].in_features,
                     "action": self.policy.net[-1].out_features},
            "state_dict": self.policy.state_dict(),
            "meta": self.meta,
        })

    @classmethod
    def load(cls, path: str | Path) -> "BCAgent":
        """Rebuild an agent from :meth:`save`'s file (no code is unpickled)."""
        return cls.from_checkpoint(load_checkpoint(path))

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> "BCAgent":
        """Rebuild from an already-loaded checkpoint dict."""
        cfg = BCConfig(**ckpt["config"])
        obs_dim, action_dim = ckpt["dims"]["obs"], ckpt["dims"]["action"]
        policy = BCPolicy(obs_dim, action_dim, cfg,
                          Normalizer.empty(obs_dim), Normalizer.empty(action_dim))
        policy.load_state_dict(ckpt["state_dict"])
        return cls(policy, cfg, ckpt["meta"])
