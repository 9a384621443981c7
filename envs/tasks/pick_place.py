"""PickPlace: grasp a cube from the table with the arm's gripper and put it down on a target spot.

Backend-neutral: the layout, observations, reward and success are defined here over
:class:`PickPlaceState`; the arm is ``envs/robots/arm.py``; scenes (``envs/scenes/*_pick_place.py``)
only simulate. The grasp is by friction: the fingers squeeze the cube with ``arm.FINGER_FORCE``
(10 N each; friction 1 between pads and cube, so up to 20 N of hold against its 0.5 N weight).
Success: the cube rests on the table (bottom within 5 mm of it, speed below 5 cm/s) with its centre
within ``PLACE_TOLERANCE`` of the target, and the gripper has let go (pads wider than the cube).
Options: ``control_mode="ee_delta"`` (default, action (4,): TCP displacement + gripper) or
``"joint_delta"`` (action (5,): joint target displacement + gripper); gripper -1 shut, +1 open.
"""

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from envs.cameras import CameraSpec
from envs.contracts import TaskBase
from envs.robots import arm
from envs.tasks.reach import EE_NAMES, JOINT_NAMES, sample_start

CUBE_HALF = 0.02  # m, half edge
CUBE_MASS = 0.05  # kg
CUBE_FRICTION = 1.0  # against the pads and the table (as arm.FRICTION)
SPAWN_R, SPAWN_YAW = (0.18, 0.36), (-0.9, 0.9)  # cube and target region, cylindrical about the base
MIN_SEPARATION = 0.1  # m between the cube and the target at spawn
PLACE_TOLERANCE = 0.025  # m, cube centre to target centre (xy)
REST_HEIGHT = CUBE_HALF + 0.005  # cube centre below this: resting on the table
REST_SPEED = 0.05  # m/s
RELEASED = CUBE_HALF + 0.005  # each finger opened beyond this: the cube is not held
REACHABLE_R = (arm.R_MIN - 0.02, arm.R_MAX + 0.03)  # cube centre outside: cannot be grasped, failure
HORIZON = 200

LABELS = ("table", "arm", "cube", "target")
CAMERAS = (
    CameraSpec("front", eye=(0.8, -0.6, 0.55), target=(0.24, 0.0, 0.06)),
    CameraSpec("top", eye=(0.27, 0.0, 1.05), target=(0.27, 0.0, 0.0), up=(1.0, 0.0, 0.0)),
)
BACKENDS = {
    "mujoco": "envs.scenes.mujoco_pick_place:MujocoPickPlaceScene",
    "pybullet": "envs.scenes.pybullet_pick_place:PybulletPickPlaceScene",
}

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class PickPlaceLayout:
    """Initial joint angles (4,), cube position on the table and yaw, target position."""

    q: tuple[float, float, float, float]
    cube_xy: tuple[float, float]
    cube_yaw: float
    target_xy: tuple[float, float]


class PickPlaceState(NamedTuple):
    """Arm, gripper, cube and target, read from a scene each step."""

    q: tuple[float, ...]
    qd: tuple[float, ...]
    fingers: tuple[float, float]  # each finger's pad distance from the TCP
    ee: Vec3
    cube: Vec3
    cube_yaw: float
    cube_velocity: Vec3
    target: tuple[float, float]


def _sample_xy(rng: np.random.Generator) -> tuple[float, float]:
    r, a = rng.uniform(*SPAWN_R), rng.uniform(*SPAWN_YAW)
    return float(r * math.cos(a)), float(r * math.sin(a))


def placed(s: PickPlaceState) -> bool:
    """The cube rests on the table within ``PLACE_TOLERANCE`` of the target (released or not)."""
    (cx, cy, cz), (vx, vy, vz) = s.cube, s.cube_velocity
    return (math.hypot(cx - s.target[0], cy - s.target[1]) < PLACE_TOLERANCE and cz < REST_HEIGHT
            and vx * vx + vy * vy + vz * vz < REST_SPEED * REST_SPEED)


class PickPlaceTask(TaskBase):
    """Initial distribution, observations, reward and success of PickPlace."""

    state_names = (*JOINT_NAMES, "finger_left", "finger_right", *EE_NAMES,
                   "cube_x", "cube_y", "cube_z", "cube_cos4yaw", "cube_sin4yaw",
                   "cube_vx", "cube_vy", "cube_vz", "target_x", "target_y",
                   "cube_minus_ee_x", "cube_minus_ee_y", "cube_minus_ee_z",
                   "target_minus_cube_x", "target_minus_cube_y")
    proprio_names = (*JOINT_NAMES, "finger_left", "finger_right", *EE_NAMES)

    def sample_layout(self, rng: np.random.Generator) -> PickPlaceLayout:
        """Arm near home (hand down, open); cube and target apart, anywhere in the spawn region."""
        q = sample_start(rng)
        cube = _sample_xy(rng)
        while True:
            target = _sample_xy(rng)
            if math.dist(cube, target) >= MIN_SEPARATION:
                break
        return PickPlaceLayout(q, cube, float(rng.uniform(-math.pi, math.pi)), target)

    def state_vector(self, s: PickPlaceState) -> np.ndarray:
        """(28,) float32; the cube's yaw enters as cos/sin of 4*yaw (its 4-fold symmetry)."""
        (x, y, z), (cx, cy, cz), (tx, ty) = s.ee, s.cube, s.target
        return np.array((*s.q, *s.qd, *s.fingers, x, y, z, cx, cy, cz,
                         math.cos(4 * s.cube_yaw), math.sin(4 * s.cube_yaw), *s.cube_velocity,
                         tx, ty, cx - x, cy - y, cz - z, tx - cx, ty - cy), dtype=np.float32)

    def proprio_vector(self, s: PickPlaceState) -> np.ndarray:
        """(13,) float32: q, qd, fingers, TCP."""
        return np.array((*s.q, *s.qd, *s.fingers, *s.ee), dtype=np.float32)

    def reward_terms(self, s: PickPlaceState, action: np.ndarray) -> dict[str, float]:
        """Dense shaping: TCP to cube, cube to target, small effort cost, success bonus."""
        (cx, cy, _), success = s.cube, self.outcome(s)[0]
        return {
            "reach": -0.5 * math.dist(s.ee, s.cube),
            "place": -2.0 * math.hypot(s.target[0] - cx, s.target[1] - cy),
            "effort": -0.01 * sum([x * x for x in action.tolist()]),
            "success": 5.0 if success else 0.0,
        }

    def outcome(self, s: PickPlaceState) -> tuple[bool, str | None]:
        """Success once placed and let go; failure once the cube is out of the arm's reach."""
        if placed(s) and s.fingers[0] > RELEASED and s.fingers[1] > RELEASED:
            return True, None
        if not REACHABLE_R[0] < math.hypot(s.cube[0], s.cube[1]) < REACHABLE_R[1]:
            return False, "cube_out_of_reach"
        return False, None


def make_pick_place_env(backend: str = "mujoco", **kwargs: Any) -> Any:
    """Entry point of ``roboloop/PickPlace-v0``; options go to :class:`TaskEnv` or the scene."""
    from envs.task_env import make_task_env

    return make_task_env(PickPlaceTask(), BACKENDS, backend, **{"horizon": HORIZON, **kwargs})
