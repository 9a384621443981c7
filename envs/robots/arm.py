"""A 3-joint arm described once: base yaw, shoulder pitch, elbow pitch; both backends build it.

Kinematics (metres, radians): the base yaw joint sits at the origin with the shoulder ``BASE_HEIGHT``
above the table; the upper arm (``UPPER``) and forearm (``FORE``) pitch about their local y axes
(positive pitch tips a link away from vertical towards +x before yaw). At zero angles the arm
points straight up. The end-effector is the forearm's tip. The arm is gravity-compensated (as a
real arm's controller would do), so position targets are tracked without sag on either backend.
"""

import math

import numpy as np

BASE_HEIGHT = 0.1
UPPER, FORE = 0.25, 0.25
JOINTS = ("yaw", "shoulder", "elbow")
LOW = np.array([-math.pi, -0.2, 0.0])  # joint limits
HIGH = np.array([math.pi, 1.9, 2.6])
KP = 20.0  # PD position servo on every joint, N m / rad
KD = 1.0  # N m s / rad
MAX_TORQUE = 10.0  # N m
LINK_MASS = 0.3  # kg per link (capsules of radius LINK_RADIUS)
LINK_RADIUS = 0.02
CONTROL_MODES = ("ee_delta", "joint_delta")
MAX_EE_STEP = 0.02  # m of end-effector target motion per step at |action| = 1 (ee_delta)
MAX_JOINT_STEP = 0.1  # rad of joint target motion per step at |action| = 1 (joint_delta)
HOME = np.array([0.0, 0.5, 1.2])


def forward(q: np.ndarray) -> np.ndarray:
    """End-effector position (3,) for joint angles (yaw, shoulder, elbow)."""
    yaw, sh, el = q
    r = UPPER * math.sin(sh) + FORE * math.sin(sh + el)
    z = BASE_HEIGHT + UPPER * math.cos(sh) + FORE * math.cos(sh + el)
    return np.array([r * math.cos(yaw), r * math.sin(yaw), z])


def inverse(p: np.ndarray) -> np.ndarray | None:
    """Joint angles (elbow bent one way) placing the end-effector at ``p``; None if unreachable."""
    x, y, z = (float(v) for v in p)
    r, h = math.hypot(x, y), z - BASE_HEIGHT
    d2 = r * r + h * h
    c = (d2 - UPPER ** 2 - FORE ** 2) / (2 * UPPER * FORE)
    if not -1.0 <= c <= 1.0:
        return None
    el = math.acos(c)
    sh = math.atan2(r, h) - math.atan2(FORE * math.sin(el), UPPER + FORE * math.cos(el))
    q = np.array([math.atan2(y, x), sh, el])
    return q if np.all(q >= LOW - 1e-9) and np.all(q <= HIGH + 1e-9) else None


class ArmTargets:
    """Turns normalized delta actions into joint position targets; identical on every backend.

    ``ee_delta``: the action moves an end-effector target by up to ``MAX_EE_STEP`` per axis, solved
    by :func:`inverse`; an unreachable target is refused and the previous one kept.
    ``joint_delta``: the action moves each joint target by up to ``MAX_JOINT_STEP``, within limits.
    """

    def __init__(self, control_mode: str) -> None:
        if control_mode not in CONTROL_MODES:
            from envs.errors import EnvConfigError

            raise EnvConfigError(
                f"control_mode={control_mode!r} is not supported; valid choices: {list(CONTROL_MODES)}")
        self.control_mode = control_mode
        self.q = HOME.copy()
        self.ee = forward(HOME)

    def reset(self, q: np.ndarray) -> None:
        """Hold the given joint configuration."""
        self.q = np.asarray(q, float).copy()
        self.ee = forward(self.q)

    def update(self, action: np.ndarray) -> np.ndarray:
        """New joint targets (3,) after one normalized action (3,)."""
        if self.control_mode == "joint_delta":
            self.q = np.clip(self.q + MAX_JOINT_STEP * action, LOW, HIGH)
            self.ee = forward(self.q)
        else:
            ee = self.ee + MAX_EE_STEP * action
            q = inverse(ee)
            if q is not None:
                self.q, self.ee = q, ee
        return self.q
