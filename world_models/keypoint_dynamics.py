"""Keypoint dynamics on PushCube: the state MLP / ensemble over a vector made of keypoints.

State representation (Ds = 12, ``KEYPOINT_STATE_NAMES``): the heatmap keypoints of the top camera
(``perception.keypoints.KeypointPerception``), lifted to 3-D with depth and kept in the table
plane (x, y, metres): the cube centre (the mean of the four cube-corner keypoints, an unordered
set), the cube's orientation as the corners' mean ``(cos 4a, sin 4a)`` (``a`` each corner's angle
about the centre; order-free and 90-degree symmetric like the cube), the pusher-tip and goal
keypoints, then the pusher proprio (x, y, vx, vy). The dynamics are ``world_models.dynamics``'
``DynamicsModel`` over this vector, unchanged; planning scores PushCube's planning reward computed
from it (``keypoint_planning_reward``, as ``PushCubeTask.batch_planning_reward``), or the env's
reward (``keypoint_reward``).
"""

from collections.abc import Callable, Sequence

import numpy as np

from envs.errors import ConfigError
from envs.tasks.push_cube import batch_planning_reward_of, batch_reward_of
from loop.protocols import Features
from world_models.dynamics import DynamicsModel
from world_models.mpc import MPC
from world_models.objectives import model_objective
from world_models.planners import PlannerConfig

KEYPOINT_STATE_NAMES = ("cube_x", "cube_y", "cube_cos4a", "cube_sin4a", "pusher_tip_x", "pusher_tip_y",
                        "goal_x", "goal_y", "pusher_x", "pusher_y", "pusher_vx", "pusher_vy")
STATE_DIM = len(KEYPOINT_STATE_NAMES)
NEEDED = ("cube_corner", "pusher_tip", "goal")


def keypoint_state(keypoints_world: np.ndarray, names: Sequence[str], proprio: np.ndarray) -> np.ndarray:
    """World keypoints (K, 3) named ``names`` and proprio (4,) -> the keypoint state (12,) float32."""
    kp, names = np.asarray(keypoints_world, np.float64), list(names)
    missing = [n for n in NEEDED if n not in names]
    if missing or kp.shape != (len(names), 3):
        raise ConfigError(f"the keypoint state needs keypoints {list(NEEDED)} as (K, 3) world points; got "
                          f"names {names} and shape {kp.shape}")
    corners = kp[[i for i, n in enumerate(names) if n == "cube_corner"], :2]
    centre = corners.mean(0)
    angle = 4 * np.arctan2(corners[:, 1] - centre[1], corners[:, 0] - centre[0])
    tip, goal = kp[names.index("pusher_tip"), :2], kp[names.index("goal"), :2]
    return np.concatenate([centre, [np.cos(angle).mean(), np.sin(angle).mean()], tip, goal,
                           np.asarray(proprio, np.float64)[:4]]).astype(np.float32)


def keypoint_reward(next_states, actions):  # noqa: ANN001, ANN201  (numpy or torch alike)
    """PushCube's reward (``PushCubeTask.batch_reward``) from keypoint states (..., 12) -> (...)."""
    return batch_reward_of(*_relative(next_states), actions)


def keypoint_planning_reward(next_states, actions):  # noqa: ANN001, ANN201  (numpy or torch alike)
    """PushCube's planning reward (``PushCubeTask.batch_planning_reward``) from keypoint states (..., 12).

    The pusher is pulled to the pre-push point ``PRE_PUSH`` behind the cube on the goal-cube line,
    not to the cube's centre, so that going around the cube first pays within a short look-ahead.
    """
    return batch_planning_reward_of(*_relative(next_states), actions)


def _relative(states):  # noqa: ANN001, ANN202
    """(cube - pusher, goal - cube) of keypoint states (..., 12): what PushCube's rewards read."""
    cube, goal, pusher = states[..., 0:2], states[..., 6:8], states[..., 8:10]
    return cube - pusher, goal - cube


class KeypointMPCAgent:
    """An Agent over ``KeypointPerception``'s features: keypoint state -> CEM over the model."""

    def __init__(self, model: DynamicsModel, names: Sequence[str], planner: PlannerConfig,
                 seed: int = 0, reward: Callable = keypoint_planning_reward) -> None:
        if model.state_dim != STATE_DIM:
            raise ConfigError(f"a keypoint dynamics model predicts states of size {STATE_DIM} "
                              f"({', '.join(KEYPOINT_STATE_NAMES)}), this one {model.state_dim}")
        self.model, self.names, self.reward = model.eval(), list(names), reward
        self.mpc = MPC(lambda s: model_objective(model, s, reward), planner, model.action_dim, seed)

    def reset(self) -> None:
        """Clear the warm start."""
        self.mpc.reset()

    def state(self, features: Features) -> np.ndarray:
        """The keypoint state (12,) of ``KeypointPerception``'s features."""
        return keypoint_state(features["keypoints_world"], self.names, features["proprio"])

    def act(self, features: Features) -> np.ndarray:
        """Plan from the keypoint state; the plan's first action (Da,) float32."""
        return self.mpc.act(self.state(features))
