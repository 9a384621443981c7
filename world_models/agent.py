"""MPC over a learned dynamics model: the roboloop Learner registered as ``mpc``.

``fit`` runs the model-based loop (``world_models/training.py``): explore, fit the model, plan
with it to collect more, refit, with held-out validation along the way. Acting replans every step
with the configured planner over the model's predicted return (the task's batched reward, or the
model's learned reward head) and executes the first action.

    python scripts/train.py agent=mpc world_model=ensemble env=reach
    python scripts/train.py agent=mpc env=push_cube agent.state=keypoints perception=keypoints \
        perception.checkpoint=<keypoints.pt> env.kwargs.obs_mode=rgb+depth "env.kwargs.cameras=[top]"

``agent.state`` picks what the model predicts and the planner scores (``world_models/representations.py``):
the env's state vector, or the state built from keypoint perception's features.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.learner import Learner, TrainingSource
from agents.meta import AgentMeta
from envs.errors import ConfigError
from loop.protocols import Features
from world_models.dynamics import DynamicsModel, WorldModelConfig, build
from world_models.mpc import MPC
from world_models.objectives import RewardFn, model_objective
from world_models.planners import PlannerConfig
from world_models.representations import STATES, Representation, env_state, keypoint_representation


@dataclass
class MPCConfig:
    """Options of model-based RL with MPC (Hydra group ``agent: mpc``; ``world_model=`` sets the model)."""

    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    total_steps: int = 3000  # env steps of training, exploration included (whole episodes)
    explore_steps: int = 500  # first env steps act uniformly at random, before any model exists
    fit_every: int = 250  # refit the model once this many new steps were collected
    action_noise: float = 0.1  # std of Gaussian noise on MPC's actions while collecting
    eval_every: int = 500  # env steps between validation points (0: only at the end)
    eval_episodes: int = 10  # validation episodes per point (seeds 90000+)
    horizon: int | None = None  # training episodes' length (None: the env's own)
    state: str = "env"  # what is planned over: env (the state vector) | keypoints (perception=keypoints)
    seed: int = 0  # exploration, bootstraps, planner samples

    def __post_init__(self) -> None:
        """Build the nested configs from plain values (Hydra, checkpoints) and validate."""
        if isinstance(self.world_model, dict):
            self.world_model = WorldModelConfig(**self.world_model)
        if isinstance(self.planner, dict):
            self.planner = PlannerConfig(**self.planner)
        for name in ("total_steps", "fit_every", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"MPCConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.explore_steps <= self.total_steps:
            raise ConfigError(f"MPCConfig.explore_steps must be in [1, total_steps={self.total_steps}], "
                              f"got {self.explore_steps}")
        if self.state not in STATES:
            raise ConfigError(f"MPCConfig.state={self.state!r}; valid choices: {list(STATES)}")
        if self.action_noise < 0 or self.eval_every < 0:
            raise ConfigError(f"MPCConfig needs action_noise >= 0 and eval_every >= 0, got "
                              f"{self.action_noise} and {self.eval_every}")


class MPCAgent(Learner):
    """Replans each step over ``model`` with the representation's batched reward (or the learned one)."""

    method = "mpc"
    config_class = MPCConfig
    sources = ("env",)
    resumable = True
    data_parallel = True  # torchrun: every rank collects the same episodes; the model's fits are split

    def __init__(self, config: MPCConfig, meta: AgentMeta, model: DynamicsModel,
                 representation: Representation) -> None:
        super().__init__(config, meta)
        self.model, self.representation = model, representation
        self.reward_fn = reward_fn = planning_reward(representation, config, meta.env_id)
        self.training: dict[str, Any] | None = None  # the model-based loop's state, for last.pt
        self.model.eval()
        self.mpc = MPC(lambda s: model_objective(model, s, reward_fn), config.planner, model.action_dim,
                       config.seed)

    @classmethod
    def fit(cls, config: MPCConfig, source: TrainingSource) -> "MPCAgent":
        """The model-based loop: explore, fit, plan to collect, refit; validates on held-out seeds."""
        from world_models.training import train

        return train(config, source)

    def reset(self) -> None:
        """Clear the warm start."""
        self.mpc.reset()

    def act(self, features: Features) -> np.ndarray:
        """The first action of the plan from this state."""
        return self.mpc.act(self.representation.vector(features))

    def state(self) -> dict[str, Any]:
        """The model's weights and normalizer statistics, its sizes (and the loop's state in last.pt)."""
        state = {"model": self.model.state_dict(), "state_dim": self.model.state_dim,
                 "action_dim": self.model.action_dim}
        if self.representation.keypoint_names is not None:
            state["keypoint_names"] = list(self.representation.keypoint_names)
        return state if self.training is None else {**state, "training": self.training}

    @classmethod
    def from_state(cls, config: MPCConfig, meta: AgentMeta, state: dict[str, Any]) -> "MPCAgent":
        """Rebuild from a checkpoint; the reward comes from the task again (it is code, not weights)."""
        model = build(state["state_dim"], state["action_dim"], config.world_model)
        model.load_state_dict(state["model"])
        if config.state == "keypoints":
            representation = keypoint_representation(meta.env_id, state["keypoint_names"])
        else:
            representation = env_representation(meta.env_id, meta.env_kwargs)
        return cls(config, meta, model, representation)


def planning_reward(representation: Representation, config: MPCConfig, env_id: str) -> RewardFn | None:
    """The representation's batched reward, or None for the learned reward head (refused if neither)."""
    if config.world_model.learn_reward:
        return None
    if representation.reward is None:
        raise ConfigError(f"{env_id} defines no batched reward for the {representation.name} state; set "
                          "world_model.learn_reward=true to learn one")
    return representation.reward


def env_representation(env_id: str, env_kwargs: dict) -> Representation:
    """The env's state and the task's batched reward, read from a fresh env of this id and kwargs."""
    import envs

    env = envs.make(env_id, **env_kwargs)
    try:
        return env_state(env)
    finally:
        env.close()
