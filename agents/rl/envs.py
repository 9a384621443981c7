"""The vectorized training envs of an SB3 learner, built from a picklable recipe.

Each training env is the task env, reset only with training seeds (``SeededResets``), its
observations made into policy inputs (``PolicyInputEnv``), and SB3's ``Monitor`` for episode
statistics. With ``subprocess`` the envs run in worker processes started with ``spawn`` (a
forked worker of a process that has rendered would hang in OSMesa; see ``envs.make_vec``).
"""

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

import envs
from agents.rl.policy_input import PolicyInputEnv, SeededResets
from perception.registry import make_perception


@dataclass(frozen=True)
class TrainingEnv:
    """Everything a worker needs to build training env ``index`` of ``count`` (plain data only)."""

    env_id: str
    env_kwargs: dict[str, Any]
    perception: dict[str, Any]  # a perception spec (perception.registry)
    obs_keys: list[str] | None
    frame_stack: int
    seeds: range
    first_index: int
    index: int
    count: int

    def __call__(self) -> gym.Env:
        """Build the env (in whichever process calls it)."""
        perception = make_perception(self.perception)
        env = SeededResets(envs.make(self.env_id, **self.env_kwargs), self.seeds,
                           self.first_index + self.index, self.count)
        env = PolicyInputEnv(env, None if perception.name == "identity" else perception,
                             self.obs_keys, self.frame_stack)
        return Monitor(env)


def training_envs(recipes: list[TrainingEnv], subprocess: bool) -> VecEnv:
    """The recipes' envs, in this process or in spawned workers."""
    if subprocess and len(recipes) > 1:
        return SubprocVecEnv(recipes, start_method="spawn")
    return DummyVecEnv(recipes)
