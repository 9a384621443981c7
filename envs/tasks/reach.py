"""Reach: move the arm's end-effector (its TCP) to a random target sphere, within 2 cm.

Backend-neutral: the layout, observations, reward and success are defined here over
:class:`ReachState`; the arm is ``envs/robots/arm.py``; scenes (``envs/scenes/*_reach.py``) only
simulate. ``ReachTwoGoals`` (``envs/tasks/reach_two_goals.py``) reuses the scenes with two targets.
Options: ``control_mode="ee_delta"`` (default, action (3,) TCP displacement) or ``"joint_delta"``
(action (4,) joint target displacement); the gripper stays open.
"""

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from envs.cameras import CameraSpec
from envs.contracts import TaskBase
from envs.robots import arm

SUCCESS_DISTANCE = 0.02  # m, TCP to target
TARGET_RADIUS = 0.02  # m, the drawn sphere
TARGET_R, TARGET_YAW, TARGET_Z = (0.15, 0.40), (-1.2, 1.2), (0.05, 0.28)  # cylindrical, about the base
START_NOISE = 0.03  # m: the TCP starts this close (per axis) to the home pose, hand down
MIN_START_DISTANCE = 0.08  # m between the start TCP and a target
HORIZON = 100

TARGETS = ("target",)  # names of the target bodies (one per target), also segmentation labels
LABELS = ("table", "arm", *TARGETS)
CAMERAS = (
    CameraSpec("front", eye=(0.95, -0.75, 0.65), target=(0.22, 0.0, 0.12)),
    CameraSpec("top", eye=(0.25, 0.0, 1.25), target=(0.25, 0.0, 0.0), up=(1.0, 0.0, 0.0)),
)
BACKENDS = {
    "mujoco": "envs.scenes.mujoco_reach:MujocoReachScene",
    "pybullet": "envs.scenes.pybullet_reach:PybulletReachScene",
}
JOINT_NAMES = tuple(f"q_{j}" for j in arm.JOINTS) + tuple(f"qd_{j}" for j in arm.JOINTS)
EE_NAMES = ("ee_x", "ee_y", "ee_z")

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class ReachLayout:
    """Initial joint angles (4,) and the target positions (one per name in the scene's targets)."""

    q: tuple[float, float, float, float]
    targets: tuple[Vec3, ...]


class ReachState(NamedTuple):
    """Joint angles and velocities (4,), TCP (3,) and target positions."""

    q: tuple[float, ...]
    qd: tuple[float, ...]
    ee: Vec3
    targets: tuple[Vec3, ...]


def sample_start(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Hand-down joint angles with the TCP uniformly within ``START_NOISE`` of the home pose."""
    ee = np.asarray(arm.HOME_EE) + rng.uniform(-START_NOISE, START_NOISE, 3)
    return arm.home_pose(tuple(ee.tolist()))


def sample_target(rng: np.random.Generator, yaw: tuple[float, float] = TARGET_YAW) -> Vec3:
    """A point uniform in radius, yaw and height over the target region (always reachable)."""
    r, a, z = rng.uniform(*TARGET_R), rng.uniform(*yaw), rng.uniform(*TARGET_Z)
    return (float(r * math.cos(a)), float(r * math.sin(a)), float(z))


class ReachTask(TaskBase):
    """Dense distance reward; success within ``SUCCESS_DISTANCE``."""

    state_names = (*JOINT_NAMES, *EE_NAMES, "target_x", "target_y", "target_z",
                   "target_minus_ee_x", "target_minus_ee_y", "target_minus_ee_z")
    proprio_names = (*JOINT_NAMES, *EE_NAMES)

    def sample_layout(self, rng: np.random.Generator) -> ReachLayout:
        """Start near home, hand down; a target at least ``MIN_START_DISTANCE`` from the start."""
        q = sample_start(rng)
        start = arm.forward(q)
        while True:
            target = sample_target(rng)
            if math.dist(target, start) >= MIN_START_DISTANCE:
                return ReachLayout(q, (target,))

    def state_vector(self, s: ReachState) -> np.ndarray:
        """(17,) float32: q, qd, TCP, target, target - TCP."""
        (tx, ty, tz), (x, y, z) = s.targets[0], s.ee
        return np.array((*s.q, *s.qd, x, y, z, tx, ty, tz, tx - x, ty - y, tz - z), dtype=np.float32)

    def proprio_vector(self, s: ReachState) -> np.ndarray:
        """(11,) float32: q, qd, TCP."""
        return np.array((*s.q, *s.qd, *s.ee), dtype=np.float32)

    def reward_terms(self, s: ReachState, action: np.ndarray) -> dict[str, float]:
        """Distance to the target, a small effort cost and a success bonus."""
        d = math.dist(s.ee, s.targets[0])
        return {"distance": -d, "effort": -0.01 * sum([x * x for x in action.tolist()]),
                "success": 1.0 if d < SUCCESS_DISTANCE else 0.0}

    def outcome(self, s: ReachState) -> tuple[bool, str | None]:
        """Success once the TCP is within 2 cm of the target."""
        return math.dist(s.ee, s.targets[0]) < SUCCESS_DISTANCE, None

    def batch_reward(self, states: Any, actions: Any) -> Any:
        """``reward_terms`` summed, over a batch: next states (..., 17), actions (..., Da) -> (...).

        Written with operators that numpy arrays and torch tensors share, so planners call it on
        tensors without the env layer importing torch.
        """
        d = _norm(states[..., 14:17])
        return -d - 0.01 * (actions * actions).sum(-1) + (d < SUCCESS_DISTANCE) * 1.0

    def batch_success(self, states: Any) -> Any:
        """``outcome``'s success over a batch of state vectors (..., 17) -> bool (...)."""
        return _norm(states[..., 14:17]) < SUCCESS_DISTANCE


def _norm(v: Any) -> Any:
    """Euclidean norm over the last axis of a numpy array or a torch tensor."""
    return (v * v).sum(-1) ** 0.5


def make_reach_env(backend: str = "mujoco", **kwargs: Any) -> Any:
    """Entry point of ``roboloop/Reach-v0``; options go to :class:`TaskEnv` or the scene."""
    from envs.task_env import make_task_env

    return make_task_env(ReachTask(), BACKENDS, backend, **{"horizon": HORIZON, **kwargs})
