"""DQN, SAC and PPO from stable-baselines3 as roboloop learners: online, through the one interface.

``fit`` builds the training envs (training seeds only; see ``agents/rl/envs.py``), the SB3 model
with the config's hyperparameters, and runs ``learn`` under a :class:`TrainingMonitor`
(validation, checkpoints, curve). The trained agent is the policy network alone: ``act`` feeds
the loop's features through the same :class:`PolicyInput` as training and asks the policy for its
deterministic action. Checkpoints hold state dicts and plain values (no pickled SB3 zip).
"""

import copy
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import DQN, PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy

from agents.learner import Learner, TrainingSource
from agents.meta import AgentMeta
from agents.rl.config import DQNConfig, PPOConfig, RLConfig, SACConfig
from agents.rl.policy_input import PolicyInput
from agents.rl.training import Training
from agents.spaces import space_from_dict
from envs.errors import ConfigError
from loop.protocols import Features


class SB3Agent(Learner):
    """A stable-baselines3 policy driven through the loop's ``act``; subclasses name the algorithm."""

    sources = ("env",)
    resumable = True
    algorithm: ClassVar[type[BaseAlgorithm]]
    actions: ClassVar[str]  # "discrete", "continuous" or "any"

    def __init__(self, config: RLConfig, meta: AgentMeta, policy: BasePolicy,
                 policy_input: PolicyInput, training: dict[str, Any] | None = None) -> None:
        super().__init__(config, meta)
        self.policy, self.policy_input, self.training = policy, policy_input, training
        self._discrete = isinstance(policy.action_space, spaces.Discrete)

    @classmethod
    def fit(cls, config: RLConfig, source: TrainingSource) -> "SB3Agent":
        """Train online in ``source``'s env; returns the best (or last) policy."""
        eval_env = source.make_env()
        try:
            cls._check_actions(eval_env.action_space, source.env_id)
            return Training(cls, config, source, eval_env).run()
        finally:
            eval_env.close()

    @classmethod
    def _check_actions(cls, space: gym.Space, env_id: str) -> None:
        discrete = isinstance(space, spaces.Discrete)
        if (cls.actions == "discrete" and not discrete) or (cls.actions == "continuous" and discrete):
            other = "sac or ppo" if cls.actions == "discrete" else "dqn or ppo"
            raise ConfigError(f"{cls.method} needs {cls.actions} actions, but {env_id} has {space}; "
                              f"use {other}")

    def reset(self) -> None:
        """Clear the frame stack."""
        self.policy_input.reset()

    @torch.no_grad()
    def act(self, features: Features) -> np.ndarray:
        """The policy's deterministic action for these features."""
        action, _ = self.policy.predict(self.policy_input(features), deterministic=True)
        return np.int64(action) if self._discrete else np.asarray(action, np.float32)

    def episode_copy(self) -> "SB3Agent":
        """A copy of the policy and its input state; the training state (``last.pt``) is shared."""
        new = copy.copy(self)
        new.policy, new.policy_input = copy.deepcopy(self.policy), copy.deepcopy(self.policy_input)
        return new

    def state(self) -> dict[str, Any]:
        """The policy network, what rebuilds it, and the training state if this is ``last.pt``."""
        return {"policy": self.policy.state_dict(), "training": self.training or {}}

    @classmethod
    def from_state(cls, config: RLConfig, meta: AgentMeta, state: dict[str, Any]) -> "SB3Agent":
        """Rebuild the policy alone (no env, no algorithm) from a checkpoint."""
        feature_space = space_from_dict(meta.extra["feature_space"])
        policy_input = PolicyInput(feature_space, config.obs_keys, config.frame_stack)
        policy_class = cls.algorithm.policy_aliases[meta.extra["policy"]]
        policy = policy_class(policy_input.space, space_from_dict(meta.action_space), lambda _: 0.0,
                              net_arch=list(config.net_arch))
        policy.load_state_dict(state["policy"])
        return cls(config, meta, policy, policy_input, state.get("training") or None)


class DQNAgent(SB3Agent):
    """Deep Q-learning (SB3's DQN): discrete actions."""

    method, config_class, algorithm, actions = "dqn", DQNConfig, DQN, "discrete"


class SACAgent(SB3Agent):
    """Soft actor-critic (SB3's SAC): continuous actions."""

    method, config_class, algorithm, actions = "sac", SACConfig, SAC, "continuous"


class PPOAgent(SB3Agent):
    """Proximal policy optimization (SB3's PPO): discrete or continuous actions."""

    method, config_class, algorithm, actions = "ppo", PPOConfig, PPO, "any"
