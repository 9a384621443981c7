"""The arm of ``envs/robots/arm.py`` on a table, in PyBullet; arm tasks' scenes add their objects.

The arm is a URDF generated from :data:`envs.robots.arm.LINKS` (joint origins, axes, limits,
shapes, masses and the same inertias as the MJCF, loaded with ``URDF_USE_INERTIA_FROM_FILE``), so
its kinematics match ``mujoco_arm.py`` exactly. Shared with MuJoCo: all of that, the joint torque
and finger force limits (the motors' ``forces``), finger and table friction, no link damping, 5 ms
physics and 20 Hz control. The servos are PyBullet's ``POSITION_CONTROL`` constraint motors, which
hold the arm's weight without sag as MuJoCo's gravity-compensated ``<position>`` servos do; their
gains are dimensionless, tuned so joint step responses settle in about the same time.
Only the hand and fingers collide (with the table and objects), as in MuJoCo.
"""

import os
import tempfile
from collections.abc import Sequence

import numpy as np
import pybullet as pb

from envs.cameras import CameraSpec
from envs.robots import arm
from envs.scenes.pybullet_base import BLOW_UP_JOINT_SPEED, PybulletScene

_HUGE = 1e6  # rad or m: no arm joint gets near this
TABLE_HALF = (0.6, 0.6, 0.01)  # box, top face at z = 0, centred under x = 0.2 (as MuJoCo's plane)


def _f(values: Sequence[float]) -> str:
    return " ".join(f"{float(v):.6g}" for v in values)


def _geometry(link: arm.Link) -> str:
    if link.shape == "box":
        return f'<box size="{_f(2 * s for s in link.size)}"/>'
    if link.shape == "capsule":
        return f'<capsule radius="{link.size[0]:.6g}" length="{link.size[1]:.6g}"/>'
    return f'<cylinder radius="{link.size[0]:.6g}" length="{2 * link.size[1]:.6g}"/>'


def arm_urdf() -> str:
    """URDF text of the arm: a massless pedestal base link, then every link of ``arm.LINKS``."""
    r, half = arm.PEDESTAL
    parts = ['<robot name="arm"><link name="pedestal"><inertial><mass value="0"/>'
             '<inertia ixx="0" iyy="0" izz="0" ixy="0" ixz="0" iyz="0"/></inertial><visual>'
             f'<origin xyz="0 0 {half:.6g}"/><geometry><cylinder radius="{r:.6g}" '
             f'length="{2 * half:.6g}"/></geometry><material name="pedestal"><color '
             f'rgba="{_f(arm.GREY)}"/></material></visual></link>']
    for link in arm.LINKS:
        joint = arm.JOINT_OF[link.name]
        kind = "revolute" if link.joint_type == "hinge" else "prismatic"
        ixx, iyy, izz = link.inertia()
        shape = f'<origin xyz="{_f(link.centre)}"/><geometry>{_geometry(link)}</geometry>'
        collision = f"<collision>{shape}</collision>" if link.collides else ""
        parts.append(
            f'<link name="{link.name}"><inertial><origin xyz="{_f(link.centre)}"/>'
            f'<mass value="{link.mass:.6g}"/><inertia ixx="{ixx:.6g}" iyy="{iyy:.6g}" izz="{izz:.6g}" '
            f'ixy="0" ixz="0" iyz="0"/></inertial><visual>{shape}<material name="{link.name}">'
            f'<color rgba="{_f(link.rgba)}"/></material></visual>{collision}</link>'
            f'<joint name="{joint}" type="{kind}"><parent link="{link.parent or "pedestal"}"/>'
            f'<child link="{link.name}"/><origin xyz="{_f(link.origin)}"/><axis xyz="{_f(link.axis)}"/>'
            f'<limit lower="{link.low:.6g}" upper="{link.high:.6g}" effort="100" velocity="100"/>'
            "</joint>")
    return "".join(parts) + "</robot>"


class PybulletArmScene(PybulletScene):
    """Table and arm in this scene's own client; a task scene adds objects, ``reset`` and ``read``."""

    dynamic_attrs = ("controller", "_arm_states")  # changed by reset/step (copied by get_state)

    def __init__(self, camera_specs: tuple[CameraSpec, ...], labels: tuple[str, ...],
                 control_mode: str, gripper: bool, frame_skip: int) -> None:
        self.controller = arm.ArmController(control_mode, gripper)
        super().__init__(frame_skip, camera_specs, labels)
        self.action_dim = self.controller.action_dim
        c = self.client
        self.table = c.createMultiBody(
            0, c.createCollisionShape(pb.GEOM_BOX, halfExtents=TABLE_HALF),
            c.createVisualShape(pb.GEOM_BOX, halfExtents=TABLE_HALF, rgbaColor=[0.6, 0.6, 0.55, 1]),
            [0.2, 0.0, -TABLE_HALF[2]])
        c.changeDynamics(self.table, -1, lateralFriction=arm.FRICTION)
        self.arm = self._load_arm()
        self.label(self.table, "table")
        self.label(self.arm, "arm")
        # The arm's joints are read once per step by check_blow_up (and reused by read_arm); the
        # base class checks the other moving bodies.
        self._moving = [entry for entry in self._moving if entry[0] != self.arm]
        self._arm_states: tuple = ()

    def _load_arm(self) -> int:
        c = self.client
        fd, path = tempfile.mkstemp(suffix=".urdf", text=True)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(arm_urdf())
            body = c.loadURDF(path, useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE)
        finally:
            os.remove(path)
        index = {c.getJointInfo(body, j)[1].decode(): j for j in range(c.getNumJoints(body))}
        self._joints = [index[name] for name in (*arm.JOINTS, *arm.FINGERS)]
        self._link = {link.name: index[arm.JOINT_OF[link.name]] for link in arm.LINKS}  # link = joint
        for link in (-1, *self._joints):
            c.changeDynamics(body, link, linearDamping=0.0, angularDamping=0.0, jointDamping=0.0)
        for name in arm.FINGERS:
            c.changeDynamics(body, index[name], lateralFriction=arm.FRICTION)
        left, right = (index[name] for name in arm.FINGERS)  # coupled, as MuJoCo's equality
        gear = c.createConstraint(body, left, body, right, pb.JOINT_GEAR, [0, 1, 0], [0, 0, 0], [0, 0, 0])
        c.changeConstraint(gear, gearRatio=-1, maxForce=100, erp=0.2)
        n_arm = len(arm.JOINTS)
        self._forces = [arm.JOINT_FORCE] * n_arm + [arm.FINGER_FORCE] * len(arm.FINGERS)
        self._kp = [arm.PB_POSITION_GAIN] * len(self._joints)
        self._kv = [arm.PB_VELOCITY_GAIN] * len(self._joints)
        return body

    def link_index(self, name: str) -> int:
        """PyBullet link index of an arm link (``arm.LINKS`` name), e.g. ``"hand"``."""
        return self._link[name]

    def reset_arm(self, q: Sequence[float], finger: float = arm.FINGER_OPEN) -> None:
        """Put the arm at ``q`` (4,) at rest, holding it there, fingers at ``finger``."""
        values = (*(float(v) for v in q), finger, finger)
        # The fixed base too: after a blow-up its pose and velocity are NaN like the joints'.
        self.client.resetBasePositionAndOrientation(self.arm, [0, 0, 0], [0, 0, 0, 1])
        self.client.resetBaseVelocity(self.arm, [0, 0, 0], [0, 0, 0])
        for joint, value in zip(self._joints, values, strict=True):
            self.client.resetJointState(self.arm, joint, value, 0.0)
        self.controller.reset(tuple(q), finger)
        self._command(values)
        self._arm_states = self.client.getJointStates(self.arm, self._joints)

    def forget_contacts(self, body: int) -> None:
        """Drop ``body``'s cached contacts with the table and arm (call after teleporting it).

        Bullet keeps contact points, and their warm-start impulses, across a reset while the
        bodies still touch; without this a seeded episode would depend on the one before it.
        """
        c, pairs = self.client, [(self.table, -1)] + [(self.arm, link) for link in self._joints]
        for other, link in pairs:
            c.setCollisionFilterPair(body, other, -1, link, 0)
        c.performCollisionDetection()
        for other, link in pairs:
            c.setCollisionFilterPair(body, other, -1, link, 1)

    def _command(self, targets: Sequence[float]) -> None:
        self.client.setJointMotorControlArray(
            self.arm, self._joints, pb.POSITION_CONTROL, targetPositions=targets, forces=self._forces,
            positionGains=self._kp, velocityGains=self._kv)

    def apply_action(self, action: np.ndarray) -> None:
        """Move the servo targets by the action (``ArmController``)."""
        q, f = self.controller.update(action.tolist())
        self._command((*q, f, f))

    def check_blow_up(self) -> str | None:
        """Read the arm's joints (kept for :meth:`read_arm`) and check them, then the other bodies."""
        self._arm_states = states = self.client.getJointStates(self.arm, self._joints)
        fast = BLOW_UP_JOINT_SPEED
        for q, qd, *_ in states:
            if not (-fast < qd < fast and -_HUGE < q < _HUGE):  # also False for NaN
                return self._diverged(states)
        return super().check_blow_up() if self._moving else None

    def _diverged(self, states: tuple) -> str:
        for name, (q, qd, *_) in zip((*arm.JOINTS, *arm.FINGERS), states, strict=True):
            if not (-BLOW_UP_JOINT_SPEED < qd < BLOW_UP_JOINT_SPEED and -_HUGE < q < _HUGE):
                return f"PyBullet arm joint {name!r} diverged: position {q}, velocity {qd}"
        raise AssertionError("no diverged joint")  # only called when one is

    def read_arm(self) -> tuple[tuple, tuple, tuple]:
        """Joint angles (4,), joint velocities (4,) and finger positions (2,) after the last step."""
        s = self._arm_states
        return ((s[0][0], s[1][0], s[2][0], s[3][0]), (s[0][1], s[1][1], s[2][1], s[3][1]),
                (s[4][0], s[5][0]))
