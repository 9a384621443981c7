"""PickPlace simulated in PyBullet: the arm of ``pybullet_arm.py``, a cube and a target spot.

Mirrors ``mujoco_pick_place.py``: cube size, mass and friction (PyBullet multiplies the two bodies'
frictions, MuJoCo takes the larger: with 1.0 on the pads, the cube and the table both give 1.0),
the visual-only target, 5 ms physics and 20 Hz control; the task logic is shared.
"""

import math

import pybullet as pb

from envs.robots import arm
from envs.scenes.pybullet_arm import PybulletArmScene
from envs.scenes.pybullet_base import BLOW_UP_SPEED
from envs.tasks.pick_place import (
    CAMERAS,
    CUBE_FRICTION,
    CUBE_HALF,
    CUBE_MASS,
    LABELS,
    PLACE_TOLERANCE,
    PickPlaceLayout,
    PickPlaceState,
)


class PybulletPickPlaceScene(PybulletArmScene):
    """Named accessors over the PickPlace world in PyBullet (DIRECT mode, no GL needed)."""

    dynamic_attrs = ("_target", "_cube_velocity")  # changed by reset/step (copied by get_state)

    def __init__(self, control_mode: str = "ee_delta", frame_skip: int = 10) -> None:
        super().__init__(CAMERAS, LABELS, control_mode, gripper=True, frame_skip=frame_skip)
        c, box = self.client, [CUBE_HALF] * 3
        self.cube = c.createMultiBody(CUBE_MASS, c.createCollisionShape(pb.GEOM_BOX, halfExtents=box),
                                      c.createVisualShape(pb.GEOM_BOX, halfExtents=box,
                                                          rgbaColor=[0.9, 0.2, 0.2, 1]), [0.25, 0, CUBE_HALF])
        c.changeDynamics(self.cube, -1, lateralFriction=CUBE_FRICTION)
        self.target = c.createMultiBody(0, -1, c.createVisualShape(
            pb.GEOM_CYLINDER, radius=PLACE_TOLERANCE, length=0.001, rgbaColor=[0.2, 0.8, 0.2, 0.6]))
        self.label(self.cube, "cube")
        self.label(self.target, "target")
        self._moving = [entry for entry in self._moving if entry[0] != self.cube]  # checked below
        self._target = (0.0, 0.0)
        self._cube_velocity = (0.0, 0.0, 0.0)

    def reset(self, layout: PickPlaceLayout) -> None:
        """Arm at the layout's angles (gripper open), cube resting on the table, target placed."""
        c = self.client
        self.reset_arm(layout.q)
        quat = c.getQuaternionFromEuler([0, 0, layout.cube_yaw])
        c.resetBasePositionAndOrientation(self.cube, [*layout.cube_xy, CUBE_HALF], quat)
        c.resetBaseVelocity(self.cube, [0, 0, 0], [0, 0, 0])
        self.forget_contacts(self.cube)
        self._cube_velocity = (0.0, 0.0, 0.0)
        self._target = (float(layout.target_xy[0]), float(layout.target_xy[1]))
        c.resetBasePositionAndOrientation(self.target, [*self._target, 0.0005], [0, 0, 0, 1])

    def check_blow_up(self) -> str | None:
        """The arm's check, then the cube's velocity (read once here, reused by :meth:`read`)."""
        problem = super().check_blow_up()
        if problem is None:
            v = self._cube_velocity = self.client.getBaseVelocity(self.cube)[0]
            if not (-BLOW_UP_SPEED < v[0] < BLOW_UP_SPEED and -BLOW_UP_SPEED < v[1] < BLOW_UP_SPEED
                    and -BLOW_UP_SPEED < v[2] < BLOW_UP_SPEED):  # also False for NaN
                return f"PyBullet cube state diverged: velocity {v}"
        return problem

    def read(self) -> PickPlaceState:
        """Arm and finger joints, TCP (forward kinematics), cube pose and velocity, target."""
        q, qd, fingers = self.read_arm()
        cube, (qx, qy, qz, qw) = self.client.getBasePositionAndOrientation(self.cube)
        velocity = self._cube_velocity
        yaw = math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
        return PickPlaceState(q, qd, fingers, arm.forward(q), cube, yaw, velocity, self._target)
