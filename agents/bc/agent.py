"""The BC agent: learns offline from a dataset, acts through the loop's numpy interface."""

from typing import Any

import numpy as np
import torch

from agents.bc.config import BCConfig
from agents.bc.policy import BCPolicy
from agents.bc.train import fit_policy
from agents.features import flatten_features
from agents.learner import Learner, TrainingSource
from agents.meta import AgentMeta
from agents.normalizer import Normalizer
from agents.spaces import is_discrete, space_from_dict
from loop.protocols import Features
from loop.seeds import to_ranges


class BCAgent(Learner):
    """Behaviour cloning: numpy features in, a clipped action (Da,) or an action index out."""

    method = "bc"
    config_class = BCConfig
    sources = ("dataset",)

    def __init__(self, policy: BCPolicy, config: BCConfig, meta: AgentMeta) -> None:
        super().__init__(config, meta)
        self.policy = policy.eval()

    @classmethod
    def fit(cls, config: BCConfig, source: TrainingSource) -> "BCAgent":
        """Regress (or classify) the dataset's actions from its frames' features."""
        data, obs, actions = source.demonstrations(cls.method, config.obs_keys, config.success_only)
        action_space = source.spaces()[1]
        n = int(action_space.n) if is_discrete(action_space) else None
        policy = fit_policy(obs, actions, config, n, log=source.log, progress=source.progress)
        meta = source.meta(cls.method, cls.training_kind(), to_ranges(data.seeds),
                           frames=int(len(obs)), episodes=len(data))
        return cls(policy, config, meta)

    def reset(self) -> None:
        """Memoryless policy: nothing to clear."""

    @torch.no_grad()
    def act(self, features: Features) -> np.ndarray:
        """Action (Da,) float32 in [-1, 1], or an int64 index for discrete actions."""
        obs = torch.from_numpy(flatten_features(features, self.config.obs_keys))[None]
        out = self.policy(obs)[0]
        if self.policy.discrete:
            return np.int64(out.argmax().item())
        return out.clamp(-1.0, 1.0).numpy()

    def state(self) -> dict[str, Any]:
        """Weights, normalizers and the network's sizes."""
        net = self.policy.net
        return {"obs_dim": net[0].in_features, "out_dim": net[-1].out_features,
                "policy": self.policy.state_dict()}

    @classmethod
    def from_state(cls, config: BCConfig, meta: AgentMeta, state: dict[str, Any]) -> "BCAgent":
        """Rebuild from a checkpoint."""
        obs_dim, out_dim = state["obs_dim"], state["out_dim"]
        discrete = is_discrete(space_from_dict(meta.action_space))
        policy = BCPolicy(obs_dim, out_dim, config.hidden_sizes, Normalizer.empty(obs_dim),
                          None if discrete else Normalizer.empty(out_dim))
        policy.load_state_dict(state["policy"])
        return cls(policy, config, meta)
