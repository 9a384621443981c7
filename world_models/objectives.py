"""What a plan is worth: a sequence's return under a learned model or under the simulator itself.

Each builder returns an ``Objective``, ``actions (N, H, Da) -> returns (N,)``, for the planners.
Rewards come from the task's batched ``batch_reward(next_states, actions)`` (Reach and PushCube
define one, next to their scalar reward; PushCube also a ``batch_planning_reward`` shaped for
short horizons, which planners prefer) or, where a task has none, from the model's learned
reward head. Everything a planner cannot use is refused here, before any planning.
"""

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from envs.errors import ConfigError, SnapshotError
from world_models.dynamics import DynamicsModel
from world_models.graph import check_particles
from world_models.planners import Objective, PlanningError

RewardFn = Any  # (next_states (..., Ds), actions (..., Da)) -> rewards (...), numpy or torch alike


def task_reward(env: gym.Env) -> RewardFn | None:
    """What planners maximize: the task's batched reward of the state vector, or None if it has none.

    A task may define ``batch_planning_reward``, a reward shaped for short horizons (PushCube's
    approaches the point behind the cube); planners take it over ``batch_reward``.
    """
    task = getattr(env.unwrapped, "task", None)
    return getattr(task, "batch_planning_reward", None) or getattr(task, "batch_reward", None)


def check_model_fits(model: DynamicsModel, env: gym.Env) -> None:
    """A ConfigError unless the model's state and action sizes are the env's."""
    obs, act = env.observation_space, env.action_space
    if not isinstance(obs, gym.spaces.Box) or len(obs.shape) != 1:
        raise ConfigError(f"model-based planning needs a flat state observation (obs_mode=state), got {obs}")
    if not isinstance(act, gym.spaces.Box):
        raise ConfigError(f"the planners search continuous actions in [-1, 1]; this env's actions are {act}")
    check_particles(model, getattr(getattr(env.unwrapped, "task", None), "n_particles", None))
    if (model.state_dim, model.action_dim) != (obs.shape[0], act.shape[0]):
        raise ConfigError(f"the dynamics model predicts states of size {model.state_dim} from actions of "
                          f"size {model.action_dim}, but the env's are {obs.shape[0]} and {act.shape[0]}; "
                          "train the model on this env")


def model_objective(model: DynamicsModel, state: np.ndarray, reward_fn: RewardFn | None,
                    sample: bool = False) -> Objective:
    """Returns of sequences from ``state`` (Ds,) under the model (its ``propagation``).

    ``all``: every member rolls out every sequence and the returns are averaged over members.
    ``one``: sequence i follows member i mod E for the whole horizon (PETS' TS-inf with one
    particle per sequence), E times less work; the planner's averaging over samples replaces the
    average over members.
    """
    if reward_fn is None and not model.config.learn_reward:
        raise ConfigError("this task has no batched reward (batch_reward) and the model learns none; "
                          "set world_model.learn_reward=true")
    s0 = torch.as_tensor(state, dtype=torch.float32)
    if s0.shape != (model.state_dim,):
        raise ConfigError(f"the state has shape {tuple(s0.shape)}, the model expects ({model.state_dim},)")
    if reward_fn is not None:
        probe = reward_fn(s0[None], torch.zeros(1, model.action_dim))
        if not torch.isfinite(torch.as_tensor(probe)).all():
            raise PlanningError(f"the reward function returned {probe} for the current state; it must "
                                "return finite rewards")

    @torch.no_grad()
    def objective(actions: torch.Tensor) -> torch.Tensor:
        n, h, da = actions.shape
        e = model.members
        if model.config.propagation == "all":
            per_member = actions.expand(e, n, h, da)
        else:  # sequence i -> member i % e: (e, ceil(n / e), h, da), padded by repeating sequences
            rows = -(-n // e) * e
            per_member = actions[torch.arange(rows) % n].view(rows // e, e, h, da).transpose(0, 1)
        states, total = s0.expand(e, per_member.shape[1], -1), torch.zeros(e, per_member.shape[1])
        for t in range(h):
            a = per_member[:, :, t]
            states, learned = model.predict(states, a, sample=sample)
            total = total + (learned if reward_fn is None else reward_fn(states, a))
        if model.config.propagation == "all":
            return total.mean(0)
        return total.transpose(0, 1).reshape(-1)[:n]

    return objective


def simulator_objective(env: gym.Env, snapshot: Any,
                        to_action: Callable[[np.ndarray], Any] | None = None) -> Objective:
    """Returns of sequences played in ``env`` itself from ``snapshot`` (``env.unwrapped.get_state()``).

    One sequence at a time: restore, step until the horizon or the episode's end, sum the rewards.
    ``to_action`` maps a planned action (Da,) to the env's (e.g. a bin of a discrete action).
    The env is left restored to ``snapshot``. A snapshot of another env is refused here.
    """
    sim = env.unwrapped
    if not hasattr(sim, "get_state"):
        raise ConfigError(f"{env.spec.id if env.spec else env} has no get_state/set_state; the simulator "
                          "planner needs a roboloop TaskEnv")
    try:
        sim.set_state(snapshot)
    except SnapshotError as e:
        raise SnapshotError(f"cannot plan from this snapshot: {e}") from e

    def objective(actions: torch.Tensor) -> torch.Tensor:
        plans = actions.numpy().astype(np.float32)
        returns = np.zeros(len(plans))
        for i, plan in enumerate(plans):
            sim.set_state(snapshot)
            for a in plan:
                _, reward, terminated, truncated, _ = sim.step(a if to_action is None else to_action(a))
                returns[i] += reward
                if terminated or truncated:
                    break
        sim.set_state(snapshot)
        return torch.from_numpy(returns).float()

    return objective
