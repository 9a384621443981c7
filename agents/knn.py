"""Nearest-neighbour imitation: act as the demonstrator did in the k most similar frames.

Non-parametric behaviour cloning (VINN, Pari et al. 2021, on raw features instead of learned
embeddings): features are normalized per dimension with the demonstrations' statistics, and
the action is the mean of the k nearest frames' actions (the most common one for discrete actions).
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from agents.features import flatten_features
from agents.learner import Learner, TrainingSource
from agents.meta import AgentMeta
from agents.spaces import is_discrete, space_from_dict
from envs.errors import ConfigError
from loop.protocols import Features
from loop.seeds import to_ranges


@dataclass
class KNNConfig:
    """Options of nearest-neighbour imitation (Hydra group ``agent: knn``)."""

    obs_keys: list[str] = field(default_factory=lambda: ["state"])  # observation keys, concatenated
    k: int = 5  # neighbours whose actions are averaged
    success_only: bool = True  # keep only demonstrations that succeeded

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        if self.k < 1:
            raise ConfigError(f"KNNConfig.k must be >= 1, got {self.k}")
        if not self.obs_keys:
            raise ConfigError("KNNConfig.obs_keys is empty; name at least one key, e.g. ['state']")


class KNNAgent(Learner):
    """Stores every demonstration frame; acts by looking up the nearest ones."""

    method = "knn"
    config_class = KNNConfig
    sources = ("dataset",)

    def __init__(self, config: KNNConfig, meta: AgentMeta, points: np.ndarray, actions: np.ndarray,
                 mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__(config, meta)
        self.mean, self.std = mean, std
        self.points, self.actions = points, actions  # normalized features (N, Do), actions (N, Da)
        self.discrete = is_discrete(space_from_dict(meta.action_space))

    @classmethod
    def fit(cls, config: KNNConfig, source: TrainingSource) -> "KNNAgent":
        """Keep the (successful) demonstrations' frames and their normalization statistics."""
        data, obs, actions = source.demonstrations(cls.method, config.obs_keys, config.success_only)
        if len(obs) < config.k:
            raise ConfigError(f"knn needs at least k={config.k} frames, the dataset has {len(obs)}")
        mean, std = obs.mean(axis=0), np.maximum(obs.std(axis=0), 1e-2)
        meta = source.meta(cls.method, cls.training_kind(), to_ranges(data.seeds),
                           frames=int(len(obs)), episodes=len(data))
        return cls(config, meta, (obs - mean) / std, actions, mean, std)

    def act(self, features: Features) -> np.ndarray:
        """Mean action (Da,) of the k nearest frames, or their most common action index."""
        x = (flatten_features(features, self.config.obs_keys) - self.mean) / self.std
        distances = np.einsum("nd,nd->n", self.points - x, self.points - x)
        nearest = np.argpartition(distances, self.config.k - 1)[:self.config.k]
        actions = self.actions[nearest]
        if self.discrete:
            return np.int64(np.bincount(actions[:, 0].astype(np.int64)).argmax())
        return np.clip(actions.mean(axis=0), -1.0, 1.0).astype(np.float32)

    def state(self) -> dict[str, Any]:
        """The stored frames and statistics, as tensors."""
        return {"points": torch.from_numpy(self.points),
                "actions": torch.from_numpy(self.actions), "mean": torch.from_numpy(self.mean),
                "std": torch.from_numpy(self.std)}

    @classmethod
    def from_state(cls, config: KNNConfig, meta: AgentMeta, state: dict[str, Any]) -> "KNNAgent":
        """Rebuild from a checkpoint."""
        return cls(config, meta, *(state[k].numpy() for k in ("points", "actions", "mean", "std")))
