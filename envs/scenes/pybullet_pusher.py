"""What the PyBullet table-top pushing scenes share: the pusher, its servo, and one read per step.

The pusher is a cylinder on an x-slider and a y-slider above a fixed base, velocity-controlled
(``VELOCITY_CONTROL`` up to ``MAX_FORCE``) and held inside ``+-range`` as the MuJoCo joint limits
hold it. A subclass builds the table and the pushed object (``self.object``), and reads its
task state from :meth:`pusher_state` and :meth:`object_state`, which return what
:meth:`check_blow_up` read once after the step (one ``getJointStates``, one pose and one velocity
call per step).
"""

import math
from collections.abc import Sequence

import numpy as np
import pybullet as pb

from envs.scenes.pybullet_base import BLOW_UP_JOINT_SPEED, BLOW_UP_SPEED, PybulletScene

MAX_FORCE = 20.0  # N, as the MuJoCo actuators' forcerange
PUSHER_Z = 0.03  # height of the cylinder's centre (it is 0.06 tall: it stands on the table)


class PybulletPusherScene(PybulletScene):
    """A pusher and one free object; ``max_speed`` and ``pusher_range`` come from the task."""

    dynamic_attrs = ("_pusher", "_object")  # changed by reset/step (copied by get_state)

    action_dim = 2
    object: int  # the pushed body, built by the subclass

    def __init__(self, frame_skip: int, camera_specs: Sequence, labels: tuple[str, ...],
                 max_speed: float, pusher_range: float) -> None:
        super().__init__(frame_skip, camera_specs, labels)
        self.max_speed, self.pusher_range = max_speed, pusher_range
        self._pusher: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        self._object: tuple = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))

    def make_pusher(self, radius: float, rgba: Sequence[float]) -> int:
        """A fixed base with an x-slider and a y-slider carrying the cylinder; returns its body."""
        c = self.client
        cyl = c.createCollisionShape(pb.GEOM_CYLINDER, radius=radius, height=2 * PUSHER_Z)
        vis = c.createVisualShape(pb.GEOM_CYLINDER, radius=radius, length=2 * PUSHER_Z,
                                  rgbaColor=list(rgba))
        self.pusher = c.createMultiBody(
            baseMass=0, basePosition=[0, 0, PUSHER_Z],
            linkMasses=[0.01, 1.0], linkCollisionShapeIndices=[-1, cyl],
            linkVisualShapeIndices=[-1, vis], linkPositions=[[0, 0, 0]] * 2,
            linkOrientations=[[0, 0, 0, 1]] * 2, linkInertialFramePositions=[[0, 0, 0]] * 2,
            linkInertialFrameOrientations=[[0, 0, 0, 1]] * 2, linkParentIndices=[0, 1],
            linkJointTypes=[pb.JOINT_PRISMATIC] * 2, linkJointAxis=[[1, 0, 0], [0, 1, 0]])
        return self.pusher

    def reset_pusher(self, xy: Sequence[float]) -> None:
        """Put the pusher at ``xy`` at rest."""
        for joint, value in enumerate(xy):
            self.client.resetJointState(self.pusher, joint, float(value), 0.0)
        self._pusher = (float(xy[0]), float(xy[1]), 0.0, 0.0)

    def apply_action(self, action: np.ndarray) -> None:
        """Velocity-control the sliders, held inside the joint range like the MuJoCo limits."""
        x, y, _, _ = self._pusher  # from the last step's (or reset's) reading
        a0, a1 = action.tolist()
        tx, ty, r = a0 * self.max_speed, a1 * self.max_speed, self.pusher_range
        if (x >= r and tx > 0) or (x <= -r and tx < 0):
            tx = 0.0
        if (y >= r and ty > 0) or (y <= -r and ty < 0):
            ty = 0.0
        self.client.setJointMotorControlArray(self.pusher, (0, 1), pb.VELOCITY_CONTROL,
                                              targetVelocities=(tx, ty), forces=(MAX_FORCE, MAX_FORCE))

    def check_blow_up(self) -> str | None:
        """Read the pusher and the object once (kept for the task state), and check them."""
        (px, vx, *_), (py, vy, *_) = self.client.getJointStates(self.pusher, (0, 1))
        self._pusher = (px, py, vx, vy)
        self._object = self.client.getBasePositionAndOrientation(self.object)
        (lx, ly, lz), _ = self.client.getBaseVelocity(self.object)
        fast, jfast = BLOW_UP_SPEED, BLOW_UP_JOINT_SPEED
        if not (-jfast < vx < jfast and -jfast < vy < jfast and math.isfinite(px + py)):
            return f"PyBullet pusher state diverged: position {(px, py)}, velocity {(vx, vy)}"
        if not (-fast < lx < fast and -fast < ly < fast and -fast < lz < fast):  # False for NaN
            name = self._body_labels[self.object]
            return f"PyBullet {name} state diverged: pose {self._object}, velocity {(lx, ly, lz)}"
        return None

    def after_reset(self) -> None:
        """Read the object's pose after a reset (the pusher's is known), for the first state."""
        self._object = self.client.getBasePositionAndOrientation(self.object)

    def pusher_state(self) -> tuple[float, float, float, float]:
        """Pusher x, y, vx, vy after the last step or reset."""
        return self._pusher

    def object_state(self) -> tuple[float, float, float, float]:
        """The object's x, y, yaw and uprightness (z of its local z axis) after the last step."""
        (x, y, _), (qx, qy, qz, qw) = self._object
        yaw = math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
        return x, y, yaw, 1.0 - 2.0 * (qx * qx + qy * qy)
