"""What MPC plans over: the env's state vector, or a state built from a perception model's features.

A ``Representation`` turns the loop's features into the vector the dynamics model predicts and
carries the batched reward of that vector. ``agent.state`` (``MPCConfig.state``) picks one:

- ``env``: the env's privileged state (``obs_mode=state``) and the task's batched reward;
- ``keypoints``: PushCube from the camera: ``KeypointPerception``'s lifted keypoints and the
  proprio (``world_models/keypoint_dynamics.py``, 12 numbers), planned with PushCube's planning
  reward computed from them. The env gives images; the model never sees the privileged state.

The model-based loop collects, fits and plans in whichever representation is chosen, so the
same online protocol compares them.
"""

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from envs.errors import ConfigError
from loop.protocols import Features
from world_models.keypoint_dynamics import NEEDED, STATE_DIM, keypoint_planning_reward, keypoint_state
from world_models.mpc import state_of
from world_models.objectives import RewardFn, check_model_fits, task_reward

STATES = ("env", "keypoints")
KEYPOINT_TASKS = ("roboloop/PushCube-v0",)  # keypoint_planning_reward is PushCube's reward


@dataclass(frozen=True)
class Representation:
    """The planned state: its name and size, features -> vector, and its batched reward (or None)."""

    name: str
    dim: int
    vector: Callable[[Features], np.ndarray]
    reward: RewardFn | None
    keypoint_names: tuple[str, ...] | None = None  # stored in checkpoints of the keypoints state


def env_state(env: gym.Env) -> Representation:
    """The env's flat state observation and the task's batched (planning) reward."""
    obs = env.observation_space
    if not isinstance(obs, gym.spaces.Box) or len(obs.shape) != 1:
        raise ConfigError(f"agent=mpc with agent.state=env plans over the state vector: make the env with "
                          f"obs_mode=state (got observation space {obs}), or plan over perception's "
                          "features with agent.state=keypoints perception=keypoints")
    return Representation("env", int(obs.shape[0]), state_of, task_reward(env))


def keypoint_representation(env_id: str, names: tuple[str, ...] | list[str]) -> Representation:
    """PushCube's keypoint state from ``KeypointPerception`` features with these keypoint names."""
    if env_id not in KEYPOINT_TASKS:
        raise ConfigError(f"agent.state=keypoints plans with PushCube's reward on keypoints; {env_id} is not "
                          f"supported (tasks: {list(KEYPOINT_TASKS)})")
    missing = [n for n in NEEDED if n not in names]
    if missing:
        raise ConfigError(f"agent.state=keypoints needs the keypoints {list(NEEDED)}; the perception model "
                          f"has {list(names)} (missing {missing})")
    names = tuple(names)
    return Representation("keypoints", STATE_DIM,
                          lambda f: keypoint_state(f["keypoints_world"], names, f["proprio"]),
                          keypoint_planning_reward, names)


def make_representation(state: str, env: gym.Env, perception: object | None) -> Representation:
    """The representation ``state`` names for this env (and, for keypoints, its perception model)."""
    if state == "env":
        return env_state(env)
    if state == "keypoints":
        model = getattr(perception, "model", None)
        if getattr(perception, "name", None) != "keypoints" or model is None:
            raise ConfigError("agent.state=keypoints plans over KeypointPerception's features; add "
                              "perception=keypoints perception.checkpoint=<keypoint checkpoint.pt> "
                              f"(got perception {getattr(perception, 'name', None)!r})")
        return keypoint_representation(env.unwrapped.spec.id, list(model.names))
    raise ConfigError(f"agent.state={state!r}; valid choices: {list(STATES)}")


def check_fits(model, representation: Representation, env: gym.Env) -> None:  # noqa: ANN001
    """A ConfigError unless the model predicts this representation from the env's actions."""
    if representation.name == "env":
        check_model_fits(model, env)
        return
    if not isinstance(env.action_space, gym.spaces.Box):
        raise ConfigError(f"the planners search continuous actions in [-1, 1]; this env's actions are "
                          f"{env.action_space}")
    if (model.state_dim, model.action_dim) != (representation.dim, env.action_space.shape[0]):
        raise ConfigError(f"the dynamics model predicts states of size {model.state_dim} from actions of "
                          f"size {model.action_dim}; the {representation.name} state has "
                          f"{representation.dim} numbers and the env's actions {env.action_space.shape[0]}")
