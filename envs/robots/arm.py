"""A 4-joint arm with a parallel gripper, described once; both backends build it from :data:`LINKS`.

Kinematics (metres, radians). ``yaw`` turns the turret about the world z axis through the origin;
``shoulder``, ``elbow`` and ``wrist`` pitch about the turret's y axis: at zero angles the arm points
straight up and a positive pitch tips the rest of the chain towards the turret's +x. The shoulder is
``BASE_HEIGHT`` above the table, then come the upper arm (``UPPER``), the forearm (``FORE``) and the
hand, whose tool centre point (TCP, the middle of the finger pads, ``WRIST`` beyond the wrist axis)
is *the end-effector*. Two fingers slide along the hand's y axis (across the arm's plane); each
finger's joint value is the distance from the TCP to its pad's inner face (0 = shut). The fingers
are coupled (each scene adds the constraint) and their target moves at most ``MAX_FINGER_STEP`` per
step, so they close on an object gently and keep it centred.

Control is by position servos on every joint (MuJoCo ``<position>`` actuators, PyBullet
``POSITION_CONTROL``) with the limits and forces below; the arm's own weight is compensated (MuJoCo
``gravcomp``, PyBullet's stiff constraint motors), the payload's is not. ``ee_delta`` keeps the hand
pointing straight down (the three pitches sum to pi), which removes the redundancy of 4 joints for
a 3-d position and makes the inverse kinematics analytic (:func:`inverse`).

Everything here is plain Python floats and tuples: it runs on the hot path of every env step.
"""

import math
from dataclasses import dataclass

from envs.errors import EnvConfigError

BASE_HEIGHT = 0.12  # shoulder axis above the table
UPPER, FORE, WRIST = 0.28, 0.25, 0.085  # shoulder-elbow, elbow-wrist, wrist-TCP
JOINTS = ("yaw", "shoulder", "elbow", "wrist")
FINGERS = ("finger_left", "finger_right")
LOW = (-2.8, -0.8, 0.0, -1.0)  # joint limits, rad
HIGH = (2.8, 2.0, 2.8, 2.6)
FINGER_OPEN = 0.04  # finger travel: the pads open to 2 * FINGER_OPEN
FINGER_PAD = (0.025, 0.008, 0.025)  # pad half extents: along the hand's x, y (closing), z
JOINT_FORCE = 20.0  # N m, servo torque limit of every arm joint
FINGER_FORCE = 10.0  # N, servo force limit of each finger (the grip force on a held object)
KP, KV = (300.0, 300.0, 300.0, 60.0), (8.0, 8.0, 6.0, 2.0)  # MuJoCo arm servos: N m / rad, N m s / rad
ARMATURE = 0.01  # kg m^2 of rotor inertia on each MuJoCo arm joint: keeps the stiff servos on light
# links stable at 5 ms steps (PyBullet's constraint motors need none; its URDF has no armature)
FINGER_KP, FINGER_KV = 1000.0, 10.0  # MuJoCo finger servos: N / m, N s / m (saturate when blocked)
PB_POSITION_GAIN, PB_VELOCITY_GAIN = 0.2, 1.0  # PyBullet constraint motors (dimensionless)
FRICTION = 1.0  # sliding friction of the fingers (and of what they hold, set by each task)

CONTROL_MODES = ("ee_delta", "joint_delta")
MAX_EE_STEP = 0.02  # m of end-effector target motion per step and axis at |action| = 1
MAX_JOINT_STEP = 0.1  # rad of joint target motion per step at |action| = 1
MAX_FINGER_STEP = 0.005  # m of finger target motion per step: fingers close on objects gently
# ee_delta workspace (cylindrical about the base): every point in it has a tool-down IK solution.
R_MIN, R_MAX = 0.12, 0.42
Z_MIN, Z_MAX = 0.028, 0.30  # TCP height; at Z_MIN the fingertips clear the table by 3 mm
YAW_MAX = 2.6
HOME_EE = (0.25, 0.0, 0.2)  # TCP position of the home pose (hand pointing down)
_COS_YAW_MAX = math.cos(YAW_MAX)


@dataclass(frozen=True)
class Link:
    """One moving link: its joint (in the parent's frame at zero angles), shape and inertia."""

    name: str
    parent: str | None  # None: the fixed pedestal
    joint_type: str  # "hinge" | "slide"
    axis: tuple[float, float, float]
    origin: tuple[float, float, float]  # joint position in the parent link's frame
    low: float
    high: float
    shape: str  # "capsule" (size = radius, length along +z from the joint) | "box" | "cylinder"
    size: tuple[float, ...]  # box: half extents; cylinder: radius, half length
    centre: tuple[float, float, float]  # shape (and centre of mass) in the link's frame
    mass: float
    rgba: tuple[float, float, float, float]
    collides: bool  # only the hand and fingers touch the world; the links pass through it

    def inertia(self) -> tuple[float, float, float]:
        """Principal moments (kg m^2) about the centre of mass, axes along the link's frame."""
        m = self.mass
        if self.shape == "box":
            x, y, z = (2 * s for s in self.size)
            return (m * (y * y + z * z) / 12, m * (x * x + z * z) / 12, m * (x * x + y * y) / 12)
        r, length = self.size[0], (self.size[1] if self.shape == "capsule" else 2 * self.size[1])
        # Capsules are treated as cylinders of their straight length plus one radius (close enough
        # for servo tuning; both backends get exactly these numbers).
        if self.shape == "capsule":
            length += r
        side = m * (3 * r * r + length * length) / 12
        return (side, side, m * r * r / 2)


ORANGE, GREY, DARK = (0.9, 0.55, 0.2, 1.0), (0.35, 0.35, 0.4, 1.0), (0.15, 0.15, 0.15, 1.0)
PEDESTAL = (0.05, 0.03)  # static cylinder under the turret: radius, half height (z in [0, 0.06])
_PAD_Y = FINGER_PAD[1]
LINKS = (
    Link("turret", None, "hinge", (0, 0, 1), (0, 0, 0), LOW[0], HIGH[0], "cylinder", (0.04, 0.03),
         (0, 0, 0.09), 0.5, GREY, False),
    Link("upper", "turret", "hinge", (0, 1, 0), (0, 0, BASE_HEIGHT), LOW[1], HIGH[1], "capsule",
         (0.025, UPPER), (0, 0, UPPER / 2), 0.4, ORANGE, False),
    Link("fore", "upper", "hinge", (0, 1, 0), (0, 0, UPPER), LOW[2], HIGH[2], "capsule",
         (0.02, FORE), (0, 0, FORE / 2), 0.3, ORANGE, False),
    Link("hand", "fore", "hinge", (0, 1, 0), (0, 0, FORE), LOW[3], HIGH[3], "box",
         (0.025, 0.06, 0.03), (0, 0, 0.03), 0.2, GREY, True),
    Link("finger_left", "hand", "slide", (0, 1, 0), (0, 0, WRIST), 0.0, FINGER_OPEN, "box",
         FINGER_PAD, (0, _PAD_Y, 0), 0.05, DARK, True),
    Link("finger_right", "hand", "slide", (0, -1, 0), (0, 0, WRIST), 0.0, FINGER_OPEN, "box",
         FINGER_PAD, (0, -_PAD_Y, 0), 0.05, DARK, True),
)
# Joint names, in LINKS order: the arm's JOINTS then FINGERS.
JOINT_OF = dict(zip((link.name for link in LINKS), (*JOINTS, *FINGERS), strict=True))


def forward(q: tuple[float, ...] | list[float]) -> tuple[float, float, float]:
    """TCP position (x, y, z) for arm joint angles (yaw, shoulder, elbow, wrist)."""
    yaw, a1 = q[0], q[1]
    a2 = a1 + q[2]
    a3 = a2 + q[3]
    r = UPPER * math.sin(a1) + FORE * math.sin(a2) + WRIST * math.sin(a3)
    z = BASE_HEIGHT + UPPER * math.cos(a1) + FORE * math.cos(a2) + WRIST * math.cos(a3)
    return (r * math.cos(yaw), r * math.sin(yaw), z)


def inverse(p: tuple[float, float, float] | list[float]) -> tuple[float, float, float, float] | None:
    """Joint angles placing the TCP at ``p`` with the hand pointing down (elbow up); None if none.

    None when ``p`` is out of reach or the solution leaves the joint limits.
    """
    x, y, z = p[0], p[1], p[2]
    r = math.hypot(x, y)
    yaw = math.atan2(y, x) if r > 1e-9 else 0.0
    h = z + WRIST - BASE_HEIGHT  # the wrist axis sits WRIST above the TCP
    c = (r * r + h * h - UPPER * UPPER - FORE * FORE) / (2 * UPPER * FORE)
    if not -1.0 <= c <= 1.0:
        return None
    elbow = math.acos(c)
    shoulder = math.atan2(r, h) - math.atan2(FORE * math.sin(elbow), UPPER + FORE * math.cos(elbow))
    wrist = math.pi - shoulder - elbow
    if (LOW[0] - 1e-9 <= yaw <= HIGH[0] + 1e-9 and LOW[1] - 1e-9 <= shoulder <= HIGH[1] + 1e-9
            and LOW[2] - 1e-9 <= elbow <= HIGH[2] + 1e-9 and LOW[3] - 1e-9 <= wrist <= HIGH[3] + 1e-9):
        return (yaw, shoulder, elbow, wrist)
    return None


def clamp_to_workspace(x: float, y: float, z: float) -> tuple[float, float, float]:
    """The nearest point of the ee_delta workspace (radius, yaw and height ranges about the base)."""
    r = math.hypot(x, y)
    if R_MIN <= r <= R_MAX and x >= _COS_YAW_MAX * r and Z_MIN <= z <= Z_MAX:  # inside: |yaw| <= YAW_MAX
        return x, y, z
    yaw = math.atan2(y, x) if r > 1e-9 else 0.0
    r, yaw = min(R_MAX, max(R_MIN, r)), min(YAW_MAX, max(-YAW_MAX, yaw))
    return r * math.cos(yaw), r * math.sin(yaw), min(Z_MAX, max(Z_MIN, z))


def home_pose(ee: tuple[float, float, float] = HOME_EE) -> tuple[float, float, float, float]:
    """Tool-down joint angles with the TCP at ``ee`` (default: the home pose)."""
    q = inverse(clamp_to_workspace(*ee))
    if q is None:  # cannot happen inside the workspace (tests/test_arm.py checks a grid)
        raise EnvConfigError(f"no tool-down pose reaches {ee}")
    return q


class ArmController:
    """Turns normalized actions into joint and finger position targets; identical on every backend.

    Action layout (Da,): ``ee_delta`` (dx, dy, dz) moves the TCP target by up to ``MAX_EE_STEP`` per
    axis, clamped to the workspace and solved tool-down by :func:`inverse` (a target without a
    solution is refused and the last one kept); ``joint_delta`` moves each of the 4 joint targets
    by up to ``MAX_JOINT_STEP`` within the limits. With ``gripper=True`` one more entry says where
    the fingers should go, absolutely (-1 shut, +1 fully open); their target moves there by at most
    ``MAX_FINGER_STEP`` per step. Without it the gripper stays open.
    """

    def __init__(self, control_mode: str, gripper: bool) -> None:
        if control_mode not in CONTROL_MODES:
            raise EnvConfigError(
                f"control_mode={control_mode!r} is not supported; valid choices: {list(CONTROL_MODES)}"
                " (end-effector or joint target displacements)")
        self.control_mode, self.gripper = control_mode, gripper
        self._ee_mode = control_mode == "ee_delta"
        self.action_dim = (3 if self._ee_mode else len(JOINTS)) + int(gripper)
        self.q: tuple[float, ...] = home_pose()
        self.ee = forward(self.q)
        self.finger = FINGER_OPEN

    def reset(self, q: tuple[float, ...], finger: float = FINGER_OPEN) -> None:
        """Hold joint angles ``q`` (4,) and finger opening ``finger``."""
        self.q = tuple(float(v) for v in q)
        self.ee = forward(self.q)
        self.finger = float(finger)

    def update(self, action: list[float]) -> tuple[tuple[float, ...], float]:
        """Joint targets (4,) and the finger target after one normalized action (Da,) list."""
        if self._ee_mode:
            s = MAX_EE_STEP
            ee = clamp_to_workspace(self.ee[0] + s * action[0], self.ee[1] + s * action[1],
                                    self.ee[2] + s * action[2])
            q = inverse(ee)
            if q is not None:
                self.q, self.ee = q, ee
        else:
            s = MAX_JOINT_STEP
            self.q = tuple(min(hi, max(lo, v + s * a))
                           for v, a, lo, hi in zip(self.q, action, LOW, HIGH, strict=False))
            self.ee = forward(self.q)
        if self.gripper:
            goal, f = FINGER_OPEN * 0.5 * (action[-1] + 1.0), self.finger
            self.finger = min(f + MAX_FINGER_STEP, max(f - MAX_FINGER_STEP, goal))
        return self.q, self.finger
