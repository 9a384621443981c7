"""PushCube: a planar pusher pushes a cube into a goal disk on a table.

Backend-neutral: the layout distribution, observations, reward and success are defined here over
:class:`PushCubeState`; scenes (``envs/scenes/*_push_cube.py``) only simulate. Units: metres,
radians, seconds. The table spans the xy-plane, centred on the origin.
"""

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from envs.cameras import CameraSpec
from envs.contracts import TaskBase

CUBE_HALF = 0.025  # cube half edge
PUSHER_RADIUS = 0.015
PUSHER_RANGE = 0.3  # pusher joint limit: |x|, |y| <= this
MAX_SPEED = 0.25  # pusher speed at |action| = 1, m/s
GOAL_TOLERANCE = 0.03  # success when the cube centre is this close to the goal
CUBE_SPAWN = 0.12  # cube starts in [-CUBE_SPAWN, CUBE_SPAWN]^2
GOAL_SPAWN = 0.18
PUSHER_SPAWN = 0.2
MIN_SEPARATION = 0.08  # between cube and goal, and cube and pusher, at spawn
OUT_OF_REACH = PUSHER_RANGE - 0.02  # cube beyond this cannot be pushed back: episode fails
PRE_PUSH = CUBE_HALF + PUSHER_RADIUS + 0.01  # where a push starts: this far behind the cube's centre

LABELS = ("table", "pusher", "cube", "goal")  # segmentation ids 1..4; 0 = nothing
CAMERAS = (
    CameraSpec("top", eye=(0.0, 0.0, 0.8), target=(0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0)),
    CameraSpec("front", eye=(0.0, -0.6, 0.45), target=(0.0, 0.0, 0.0)),
)

BACKENDS = {
    "mujoco": "envs.scenes.mujoco_push_cube:MujocoPushCubeScene",
    "pybullet": "envs.scenes.pybullet_push_cube:PybulletPushCubeScene",
}


@dataclass(frozen=True)
class PushCubeLayout:
    """An episode's initial configuration."""

    pusher_xy: tuple[float, float]
    cube_xy: tuple[float, float]
    cube_yaw: float
    goal_xy: tuple[float, float]


class PushCubeState(NamedTuple):
    """Task-level state read from a scene each step."""

    pusher_x: float
    pusher_y: float
    pusher_vx: float
    pusher_vy: float
    cube_x: float
    cube_y: float
    cube_yaw: float
    goal_x: float
    goal_y: float


class PushCubeTask(TaskBase):
    """Initial distribution, observations, reward and success of PushCube."""

    state_names = (
        "pusher_x", "pusher_y", "pusher_vx", "pusher_vy", "cube_x", "cube_y",
        "cube_cos4yaw", "cube_sin4yaw", "goal_x", "goal_y",
        "cube_minus_pusher_x", "cube_minus_pusher_y", "goal_minus_cube_x", "goal_minus_cube_y",
    )
    proprio_names = ("pusher_x", "pusher_y", "pusher_vx", "pusher_vy")

    def sample_layout(self, rng: np.random.Generator) -> PushCubeLayout:
        """Uniform cube, goal and pusher positions, kept apart by ``MIN_SEPARATION``."""
        cube = rng.uniform(-CUBE_SPAWN, CUBE_SPAWN, 2)
        goal = _sample_away(rng, GOAL_SPAWN, cube)
        pusher = _sample_away(rng, PUSHER_SPAWN, cube)
        yaw = float(rng.uniform(-math.pi, math.pi))
        return PushCubeLayout(tuple(pusher), tuple(cube), yaw, tuple(goal))

    def state_vector(self, s: PushCubeState) -> np.ndarray:
        """(14,) float32; the cube yaw enters as cos/sin of 4*yaw (the cube's 4-fold symmetry)."""
        px, py, vx, vy, cx, cy, yaw, gx, gy = s  # one unpack: attribute reads cost ~40 ns each
        return np.array((px, py, vx, vy, cx, cy, math.cos(4 * yaw), math.sin(4 * yaw), gx, gy,
                         cx - px, cy - py, gx - cx, gy - cy), dtype=np.float32)

    def proprio_vector(self, s: PushCubeState) -> np.ndarray:
        """(4,) float32: pusher position and velocity."""
        return np.array((s.pusher_x, s.pusher_y, s.pusher_vx, s.pusher_vy), dtype=np.float32)

    def reward_terms(self, s: PushCubeState, action: np.ndarray) -> dict[str, float]:
        """Dense shaping: approach the cube, bring the cube to the goal, small effort cost."""
        px, py, _, _, cx, cy, _, gx, gy = s
        cube_goal = math.hypot(gx - cx, gy - cy)
        return {
            "reach": -0.5 * math.hypot(cx - px, cy - py),
            "push": -2.0 * cube_goal,
            "effort": -0.01 * sum([x * x for x in action.tolist()]),
            "success": 5.0 if cube_goal < GOAL_TOLERANCE else 0.0,
        }

    def outcome(self, s: PushCubeState) -> tuple[bool, str | None]:
        """Success inside the goal disk; failure once the cube leaves the pusher's reach."""
        _, _, _, _, cx, cy, _, gx, gy = s
        if math.hypot(gx - cx, gy - cy) < GOAL_TOLERANCE:
            return True, None
        if abs(cx) > OUT_OF_REACH or abs(cy) > OUT_OF_REACH:
            return False, "cube_out_of_reach"
        return False, None

    def batch_reward(self, states: Any, actions: Any) -> Any:
        """``reward_terms`` summed, over a batch: next states (..., 14), actions (..., 2) -> (...).

        Numpy arrays or torch tensors alike (shared operators only; the env layer never imports torch).
        """
        return batch_reward_of(states[..., 10:12], states[..., 12:14], actions)

    def batch_planning_reward(self, states: Any, actions: Any) -> Any:
        """A reward shaped for short-horizon planning, over a batch: (..., 14), (..., 2) -> (...).

        ``batch_reward`` pulls the pusher toward the cube's centre, and 15 steps of look-ahead
        rarely see that going around the cube first pays. This one pulls it toward the pre-push
        point instead, ``PRE_PUSH`` behind the cube on the line from the goal through the cube, so
        that moving to it and then pushing along the line both score. Planners use it
        (``world_models.objectives.task_reward``); the env's reward is unchanged.
        """
        return batch_planning_reward_of(states[..., 10:12], states[..., 12:14], actions)

    def batch_success(self, states: Any) -> Any:
        """``outcome``'s success over a batch of state vectors (..., 14) -> bool (...)."""
        return _norm(states[..., 12:14]) < GOAL_TOLERANCE


def batch_reward_of(cube_minus_pusher: Any, goal_minus_cube: Any, actions: Any) -> Any:
    """``reward_terms`` summed, from the two relative vectors (..., 2) any state representation gives."""
    cube_goal = _norm(goal_minus_cube)
    return (-0.5 * _norm(cube_minus_pusher) - 2.0 * cube_goal
            - 0.01 * (actions * actions).sum(-1) + (cube_goal < GOAL_TOLERANCE) * 5.0)


def batch_planning_reward_of(cube_minus_pusher: Any, goal_minus_cube: Any, actions: Any) -> Any:
    """``batch_planning_reward`` from the two relative vectors (..., 2) (the pre-push point's pull)."""
    cube_goal = _norm(goal_minus_cube)
    behind = cube_minus_pusher - PRE_PUSH * goal_minus_cube / (cube_goal[..., None] + 1e-6)
    return (-1.0 * _norm(behind) - 2.0 * cube_goal
            - 0.01 * (actions * actions).sum(-1) + (cube_goal < GOAL_TOLERANCE) * 5.0)


def _norm(v: Any) -> Any:
    """Euclidean norm over the last axis of a numpy array or a torch tensor."""
    return (v * v).sum(-1) ** 0.5


def _sample_away(rng: np.random.Generator, half: float, avoid: np.ndarray) -> np.ndarray:
    """Uniform point in [-half, half]^2 at least ``MIN_SEPARATION`` from ``avoid``."""
    while True:
        p = rng.uniform(-half, half, 2)
        if np.hypot(*(p - avoid)) >= MIN_SEPARATION:
            return p


def make_push_cube_env(backend: str = "mujoco", **kwargs: Any) -> Any:
    """Entry point of ``roboloop/PushCube-v0``; options go to :class:`TaskEnv` or the scene."""
    from envs.task_env import make_task_env

    return make_task_env(PushCubeTask(), BACKENDS, backend, **kwargs)
