"""Model-predictive control: replan every step, execute the first action, warm-start from the rest.

``MPC`` is the acting core shared by the learned-model agent (``world_models.agent.MPCAgent``)
and ``SimulatorPlanner``, which plans over the env's own physics (state save and restore) as an
expert for any task and as the upper bound for learned models.
"""

from collections.abc import Callable
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.features import flatten_features
from envs.errors import ConfigError
from loop.protocols import Features
from world_models.objectives import simulator_objective
from world_models.planners import Objective, PlannerConfig, plan


class MPC:
    """Receding-horizon control around any objective builder ``state -> Objective``.

    After each plan (H, Da) it keeps ``plan[1:]`` followed by zeros as the next search's start
    (the shifted previous plan) and returns ``plan[0]``; ``reset`` clears it.
    """

    def __init__(self, objective_for: Callable[[Any], Objective], planner: PlannerConfig,
                 action_dim: int, seed: int = 0) -> None:
        self.objective_for, self.planner, self.action_dim = objective_for, planner, action_dim
        self.generator = torch.Generator().manual_seed(seed)
        self.plan: torch.Tensor | None = None  # the last plan, (H, Da)
        self.reset()

    def reset(self) -> None:
        """Start the next episode's search from zeros."""
        self.mean = torch.zeros(self.planner.horizon, self.action_dim)
        self.plan = None

    def act(self, state: Any) -> np.ndarray:
        """Plan from ``state`` and return the plan's first action (Da,) float32."""
        self.plan = plan(self.objective_for(state), self.mean, self.planner, self.generator)
        self.mean = torch.cat([self.plan[1:], torch.zeros(1, self.action_dim)])
        return self.plan[0].numpy().astype(np.float32)


class SimulatorPlanner:
    """An agent that plans in the very env it acts in: snapshot, try sequences, restore, act.

    Each sequence of each planning iteration is played from ``env.unwrapped.get_state()`` and the
    env is restored before the action is returned, so the episode continues as if nothing had
    been tried. Slow (one env step per sample and horizon step), so keep ``samples`` small. A
    discrete action space of n actions is searched as one continuous action in [-1, 1] cut into
    n equal bins.
    """

    def __init__(self, env: gym.Env, planner: PlannerConfig, seed: int = 0) -> None:
        space = env.action_space
        if isinstance(space, gym.spaces.Discrete):
            self.to_action: Callable[[np.ndarray], Any] | None = partial(_bin, n=int(space.n))
            action_dim = 1
        elif isinstance(space, gym.spaces.Box):
            self.to_action, action_dim = None, int(np.prod(space.shape))
        else:
            raise ConfigError(f"the simulator planner searches Box or Discrete actions, not {space}")
        self.env = env
        sim = env.unwrapped
        self.mpc = MPC(lambda _: simulator_objective(env, sim.get_state(), self.to_action), planner,
                       action_dim, seed)

    def reset(self) -> None:
        """Clear the warm start."""
        self.mpc.reset()

    def act(self, features: Features) -> np.ndarray:
        """The first action of a plan made in the simulator (the features are not needed)."""
        action = self.mpc.act(None)
        return action if self.to_action is None else self.to_action(action)


def _bin(action: np.ndarray, n: int) -> np.int64:
    """A planned action in [-1, 1] (1,) -> one of ``n`` discrete actions (equal bins)."""
    return np.int64(min(n - 1, int((float(action[0]) + 1) / 2 * n)))


def state_of(features: Features) -> np.ndarray:
    """The state vector (Ds,) float32 from the loop's features (a state-mode observation)."""
    return flatten_features(features, ["state"])
