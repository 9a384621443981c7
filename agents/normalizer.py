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
    def empty(cls, dim: int) -> "Normalizer":
        """Placeholder of the right size, to be filled by ``load_state_dict``."""
        return cls(torch.zeros(dim), torch.ones(dim))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Raw -> normalized."""
        return (x - self.mean) / self.std

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized -> raw."""
        return x * self.std + self.mean
