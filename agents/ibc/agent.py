"""The IBC agent: an energy model trained offline on demonstrations, acting by derivative-free argmin."""

from typing import Any

import numpy as np
import torch

from agents.bc.network import is_image_shape
from agents.features import flatten_features
from agents.ibc.config import IBCConfig
from agents.ibc.energy import EnergyModel, fit_energy
from agents.learner import Learner, TrainingSource
from agents.meta import AgentMeta
from agents.normalizer import Normalizer
from agents.spaces import is_discrete
from envs.errors import ConfigError
from loop.protocols import Features
from loop.seeds import to_ranges


class IBCAgent(Learner):
    """Implicit BC on vector features: ``act`` returns argmin_a E(o, a), float32 (Da,) in [-1, 1]."""

    method = "ibc"
    config_class = IBCConfig
    sources = ("dataset",)

    def __init__(self, model: EnergyModel, config: IBCConfig, meta: AgentMeta) -> None:
        super().__init__(config, meta)
        self.model = model.eval()
        self.gen = torch.Generator().manual_seed(config.seed)  # the inference samples' stream

    @classmethod
    def fit(cls, config: IBCConfig, source: TrainingSource) -> "IBCAgent":
        """InfoNCE on the (successful) demonstrations' frames."""
        if is_discrete(source.spaces()[1]):
            raise ConfigError("IBC optimizes over continuous actions; for discrete actions use agent=bc, "
                              "which classifies them")
        data = source.require_dataset(cls.method)
        images = [k for k in config.obs_keys if (spec := data.features.get(f"observation.{k}"))
                  and is_image_shape(tuple(spec["shape"]), spec["dtype"])]
        if images:
            raise ConfigError(f"IBC reads vector features, but obs_keys {images} hold camera images; "
                              "name vector keys (state, proprio) or use agent=bc for images")
        data, obs, actions = source.demonstrations(cls.method, config.obs_keys, config.success_only)
        model = fit_energy(obs, actions, config, log=source.log, progress=source.progress)
        meta = source.meta(cls.method, cls.training_kind(), to_ranges(data.seeds), frames=int(len(obs)),
                           episodes=len(data))
        return cls(model, config, meta)

    def act(self, features: Features) -> np.ndarray:
        """The lowest-energy action found by derivative-free optimization."""
        obs = torch.from_numpy(flatten_features(features, self.config.obs_keys))[None]
        return self.model.argmin(obs, self.config, self.gen)[0].numpy()

    def state(self) -> dict[str, Any]:
        """Weights, the observation normalizer and the action box."""
        return {"obs_dim": self.model.obs_norm.mean.numel(), "action_dim": self.model.low.numel(),
                "model": self.model.state_dict()}

    @classmethod
    def from_state(cls, config: IBCConfig, meta: AgentMeta, state: dict[str, Any]) -> "IBCAgent":
        """Rebuild from a checkpoint."""
        obs_dim, action_dim = state["obs_dim"], state["action_dim"]
        model = EnergyModel(obs_dim, action_dim, config.hidden_sizes, Normalizer.empty(obs_dim),
                            -torch.ones(action_dim), torch.ones(action_dim))
        model.load_state_dict(state["model"])
        return cls(model, config, meta)
