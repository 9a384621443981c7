"""Reach: move the arm's end-effector to a random target (a sphere) within 2 cm.

Backend-neutral: the layout, observations, reward and success are defined here over
:class:`ReachState`; the arm is ``envs/robots/arm.py``; scenes (``envs/scenes/*_reach.py``)
only simulate. Targets are drawn as the forward kinematics of random joint angles, so every
target is reachable.
"""

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from envs.cameras import CameraSpec
from envs.robots.arm import HOME, forward

SUCCESS_DISTANCE = 0.02  # m
TARGET_RADIUS = 0.02  # m, the drawn sphere
TARGET_JOINT_RANGE = ((-1.2, 1.2), (0.2, 1.5), (0.4, 2.2))  # targets = forward(q) for q in these
START_NOISE = 0.1  # rad around the home pose
HORIZON = 100

LABELS = ("table", "arm", "target")
CAMERAS = (
    CameraSpec("front", eye=(0.9, -0.9, 0.7), target=(0.15, 0.0, 0.15)),
    CameraSpec("top", eye=(0.15, 0.0, 1.3), target=(0.15, 0.0, 0.0), up=(1.0, 0.0, 0.0)),
)
BACKENDS = {
    "mujoco": "envs.scenes.mujoco_reach:MujocoReachScene",
    "pybullet": "envs.scenes.pybullet_reach:PybulletReachScene",
}


@dataclass(frozen=True)
class ReachLayout:
    """Initial joint angles and the target position."""

    q: tuple[float, float, float]
    target: tuple[float, float, float]


class ReachState(NamedTuple):
    """Joint angles and velocities, end-effector and target positions."""

    q: tuple[float, float, float]
    qd: tuple[float, float, float]
    ee: tuple[float, float, float]
    target: tuple[float, float, float]


class ReachTask:
    """Dense distance reward; success within ``SUCCESS_DISTANCE``."""

    state_names = ("q_yaw", "q_shoulder", "q_elbow", "qd_yaw", "qd_shoulder", "qd_elbow",
                   "ee_x", "ee_y", "ee_z", "target_x", "target_y", "target_z",
                   "target_minus_ee_x", "target_minus_ee_y", "target_minus_ee_z")
    proprio_names = state_names[:9]

    def sample_layout(self, rng: np.random.Generator) -> ReachLayout:
        """Start near home; target = forward kinematics of random joint angles, above the table."""
        q = HOME + rng.uniform(-START_NOISE, START_NOISE, 3)
        while True:
            target = forward(np.array([rng.uniform(lo, hi) for lo, hi in TARGET_JOINT_RANGE]))
            if target[2] > 0.05:
                return ReachLayout(tuple(map(float, q)), tuple(map(float, target)))

    def state_vector(self, s: ReachState) -> np.ndarray:
        """(15,) float32: q, qd, ee, target, target - ee."""
        diff = (s.target[0] - s.ee[0], s.target[1] - s.ee[1], s.target[2] - s.ee[2])
        return np.array((*s.q, *s.qd, *s.ee, *s.target, *diff), dtype=np.float32)

    def proprio_vector(self, s: ReachState) -> np.ndarray:
        """(9,) float32: q, qd, ee."""
        return np.array((*s.q, *s.qd, *s.ee), dtype=np.float32)

    def reward_terms(self, s: ReachState, action: np.ndarray) -> dict[str, float]:
        """Distance to the target, a small effort cost and a success bonus."""
        d = math.dist(s.ee, s.target)
        return {"distance": -d, "effort": -0.01 * float(np.dot(action, action)),
                "success": 1.0 if d < SUCCESS_DISTANCE else 0.0}

    def outcome(self, s: ReachState) -> tuple[bool, str | None]:
        """Success once the end-effector is within 2 cm of the target."""
        return math.dist(s.ee, s.target) < SUCCESS_DISTANCE, None


def make_reach_env(backend: str = "mujoco", **kwargs: Any) -> Any:
    """Entry point of ``roboloop/Reach-v0``; options go to :class:`TaskEnv` or the scene."""
    from envs.task_env import make_task_env

    return make_task_env(ReachTask(), BACKENDS, backend, **{"horizon": HORIZON, **kwargs})
