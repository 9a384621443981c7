"""ReachTwoGoals: two mirror-image targets (y -> -y across the arm's vertical xz-plane); reach either.

Both goals are equally valid, so demonstrations that pick one at random are multimodal: a policy
that averages them reaches neither. Backend-neutral; it reuses Reach's arm, scenes (with two target
spheres) and region of targets. The TCP starts near the home pose, on the mirror plane to within
1 cm, so neither goal is favoured. Options as Reach (``control_mode``; the gripper stays open).
"""

import math
from typing import Any

import numpy as np

from envs.contracts import TaskBase
from envs.robots import arm
from envs.tasks import reach
from envs.tasks.reach import EE_NAMES, JOINT_NAMES, ReachLayout, ReachState

GOAL_YAW = (0.35, 1.2)  # rad: the left goal's yaw about the base (the right one's is its negative)
START_Y_NOISE = 0.01  # m: the start TCP's distance from the mirror plane, at most
HORIZON = 100

TARGETS = ("goal_left", "goal_right")  # +y, -y
LABELS = ("table", "arm", *TARGETS)
CAMERAS = reach.CAMERAS
BACKENDS = {
    "mujoco": "envs.scenes.mujoco_reach_two_goals:MujocoReachTwoGoalsScene",
    "pybullet": "envs.scenes.pybullet_reach_two_goals:PybulletReachTwoGoalsScene",
}
_GOALS = tuple(f"{g}_{a}" for g in TARGETS for a in "xyz")


def goal_distances(s: ReachState) -> tuple[float, float]:
    """TCP distance to the left and to the right goal."""
    return math.dist(s.ee, s.targets[0]), math.dist(s.ee, s.targets[1])


class ReachTwoGoalsTask(TaskBase):
    """Dense reward towards the nearer goal; success within ``SUCCESS_DISTANCE`` of either."""

    state_names = (*JOINT_NAMES, *EE_NAMES, *_GOALS,
                   *(f"{g}_minus_ee_{a}" for g in TARGETS for a in "xyz"))
    proprio_names = (*JOINT_NAMES, *EE_NAMES)

    def sample_layout(self, rng: np.random.Generator) -> ReachLayout:
        """Start near home on the mirror plane; the left goal anywhere in its region, mirrored."""
        ee = np.asarray(arm.HOME_EE) + rng.uniform(-reach.START_NOISE, reach.START_NOISE, 3)
        ee[1] = rng.uniform(-START_Y_NOISE, START_Y_NOISE)
        q = arm.home_pose(tuple(ee.tolist()))
        x, y, z = reach.sample_target(rng, GOAL_YAW)
        return ReachLayout(q, ((x, y, z), (x, -y, z)))

    def state_vector(self, s: ReachState) -> np.ndarray:
        """(23,) float32: q, qd, TCP, left goal, right goal, each goal - TCP."""
        (lx, ly, lz), (rx, ry, rz), (x, y, z) = s.targets[0], s.targets[1], s.ee
        return np.array((*s.q, *s.qd, x, y, z, lx, ly, lz, rx, ry, rz,
                         lx - x, ly - y, lz - z, rx - x, ry - y, rz - z), dtype=np.float32)

    def proprio_vector(self, s: ReachState) -> np.ndarray:
        """(11,) float32: q, qd, TCP."""
        return np.array((*s.q, *s.qd, *s.ee), dtype=np.float32)

    def reward_terms(self, s: ReachState, action: np.ndarray) -> dict[str, float]:
        """Distance to the nearer goal, a small effort cost and a success bonus."""
        d = min(goal_distances(s))
        return {"distance": -d, "effort": -0.01 * sum([x * x for x in action.tolist()]),
                "success": 1.0 if d < reach.SUCCESS_DISTANCE else 0.0}

    def outcome(self, s: ReachState) -> tuple[bool, str | None]:
        """Success once the TCP is within 2 cm of either goal."""
        return min(goal_distances(s)) < reach.SUCCESS_DISTANCE, None


def make_reach_two_goals_env(backend: str = "mujoco", **kwargs: Any) -> Any:
    """Entry point of ``roboloop/ReachTwoGoals-v0``; options go to :class:`TaskEnv` or the scene."""
    from envs.task_env import make_task_env

    return make_task_env(ReachTwoGoalsTask(), BACKENDS, backend, **{"horizon": HORIZON, **kwargs})
