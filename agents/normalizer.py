"""Per-dimension affine normalization whose statistics travel inside checkpoints."""

import numpy as np
import torch
from torch import nn


class Normalizer(nn.Module):
    """``(x - mean) / std`` over the last dim; std is floored so constant dims stay finite."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())

    @classmethod
    def fit(cls, data: np.ndarray, min_std: float = 1e-2) -> "Normalizer":
        """Statistics of ``data`` (N, D) (or (N, ..., D): all leading dims pooled)."""
        flat = np.asarray(data, dtype=np.float64).reshape(-1, data.shape[-1])
        std = np.maximum(flat.std(axis=0), min_std)
        return cls(torch.from_numpy(flat.mean(axis=0)), torch.from_numpy(std))

    @classmethod
    def fit_range(cls, data: np.ndarray, min_half_range: float = 1e-2) -> "Normalizer":
        """Maps the data's [min, max] per dimension onto [-1, 1] (what a diffusion sampler clips to)."""
        flat = np.asarray(data, dtype=np.float64).reshape(-1, data.shape[-1])
        low, high = flat.min(axis=0), flat.max(axis=0)
        half = np.maximum((high - low) / 2, min_half_range)
        return cls(torch.from_numpy((high + low) / 2), torch.from_numpy(half))

    @classmethod
    def empty(cls, dim: int) -> "Normalizer":
        """Placeholder of the right size, to be filled by ``load_state_dict``."""
        return cls(torch.zeros(dim), torch.ones(dim))

    @torch.no_grad()
    def refit_into(self, data: np.ndarray, layer: nn.Linear, columns: torch.Tensor) -> None:
        """Refit the statistics on ``data`` and rewrite ``layer`` so the network computes the same function.

        ``layer`` reads this normalizer's output at its input ``columns`` (a (D,) index; a repeated
        block, e.g. one per frame of a history, as (T, D)). With x_old = (x - m_old) / s_old and
        x_new = (x - m_new) / s_new: W x_old = W diag(s_new / s_old) x_new + W (m_new - m_old) / s_old,
        so the weights are scaled per column and the difference moves into the bias. A warm-started
        learner can then train on data far from what it first saw without a stale normalizer.
        """
        new = Normalizer.fit(data)
        scale = new.std / self.std
        shift = (new.mean - self.mean) / self.std
        for block in columns.reshape(-1, len(self.mean)):
            w = layer.weight[:, block]
            layer.bias += w @ shift
            layer.weight[:, block] = w * scale
        self.mean.copy_(new.mean)
        self.std.copy_(new.std)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Raw -> normalized."""
        return (x - self.mean) / self.std

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized -> raw."""
        return x * self.std + self.mean
