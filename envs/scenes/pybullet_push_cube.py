"""PushCube simulated in PyBullet: a pusher on two velocity-controlled prismatic joints and a cube.

Mirrors ``mujoco_push_cube.py`` (same sizes, masses, friction, speed and force limits, 5 ms physics
steps, 20 Hz control, cameras); the task logic is shared.
"""

import math

import numpy as np
import pybullet as pb

from envs.scenes.pybullet_base import PybulletScene
from envs.tasks.push_cube import (
    CAMERAS,
    CUBE_HALF,
    GOAL_TOLERANCE,
    LABELS,
    MAX_SPEED,
    PUSHER_RADIUS,
    PUSHER_RANGE,
    PushCubeLayout,
    PushCubeState,
)

MAX_FORCE = 20.0  # N, as the MuJoCo actuators' forcerange
PUSHER_Z = 0.03


class PybulletPushCubeScene(PybulletScene):
    """Named accessors over the PushCube world in PyBullet (DIRECT mode, no GL needed)."""

    action_dim = 2

    def __init__(self, frame_skip: int = 10) -> None:
        super().__init__(frame_skip, CAMERAS, LABELS)
        self._build()

    def _build(self) -> None:
        c = self.client
        table = c.createCollisionShape(pb.GEOM_BOX, halfExtents=[0.4, 0.4, 0.01])
        self.table = c.createMultiBody(0, table, c.createVisualShape(
            pb.GEOM_BOX, halfExtents=[0.4, 0.4, 0.01], rgbaColor=[0.6, 0.6, 0.55, 1]), [0, 0, -0.01])
        box = [CUBE_HALF] * 3
        self.cube = c.createMultiBody(0.1, c.createCollisionShape(pb.GEOM_BOX, halfExtents=box),
                                      c.createVisualShape(pb.GEOM_BOX, halfExtents=box,
                                                          rgbaColor=[0.9, 0.2, 0.2, 1]))
        self.pusher = self._make_pusher()
        self.goal = c.createMultiBody(0, -1, c.createVisualShape(
            pb.GEOM_CYLINDER, radius=GOAL_TOLERANCE, length=0.001, rgbaColor=[0.2, 0.8, 0.2, 0.6]))
        for body in (self.table, self.cube):
            c.changeDynamics(body, -1, lateralFriction=0.5)
        c.changeDynamics(self.pusher, 1, lateralFriction=0.5)
        c.setCollisionFilterPair(self.pusher, self.table, 1, -1, 0)
        c.setCollisionFilterPair(self.pusher, self.table, 0, -1, 0)
        for body, name in ((self.table, "table"), (self.pusher, "pusher"), (self.cube, "cube"),
                           (self.goal, "goal")):
            self.label(body, name)
        self._goal = (0.0, 0.0)
        self._pusher_xy = (0.0, 0.0)

    def _make_pusher(self) -> int:
        """A fixed base with an x-slider and a y-slider carrying the cylinder."""
        c = self.client
        cyl = c.createCollisionShape(pb.GEOM_CYLINDER, radius=PUSHER_RADIUS, height=0.06)
        vis = c.createVisualShape(pb.GEOM_CYLINDER, radius=PUSHER_RADIUS, length=0.06,
                                  rgbaColor=[0.2, 0.3, 0.9, 1])
        return c.createMultiBody(
            baseMass=0, basePosition=[0, 0, PUSHER_Z],
            linkMasses=[0.01, 1.0], linkCollisionShapeIndices=[-1, cyl],
            linkVisualShapeIndices=[-1, vis], linkPositions=[[0, 0, 0]] * 2,
            linkOrientations=[[0, 0, 0, 1]] * 2, linkInertialFramePositions=[[0, 0, 0]] * 2,
            linkInertialFrameOrientations=[[0, 0, 0, 1]] * 2, linkParentIndices=[0, 1],
            linkJointTypes=[pb.JOINT_PRISMATIC] * 2, linkJointAxis=[[1, 0, 0], [0, 1, 0]])

    def reset(self, layout: PushCubeLayout) -> None:
        """Place pusher, cube (resting on the table, rotated by yaw) and goal; zero velocities."""
        c = self.client
        for joint, value in enumerate(layout.pusher_xy):
            c.resetJointState(self.pusher, joint, float(value), 0.0)
        quat = c.getQuaternionFromEuler([0, 0, layout.cube_yaw])
        c.resetBasePositionAndOrientation(self.cube, [*layout.cube_xy, CUBE_HALF], quat)
        c.resetBaseVelocity(self.cube, [0, 0, 0], [0, 0, 0])
        self._goal = (float(layout.goal_xy[0]), float(layout.goal_xy[1]))
        self._pusher_xy = tuple(float(v) for v in layout.pusher_xy)
        c.resetBasePositionAndOrientation(self.goal, [*self._goal, 0.0005], [0, 0, 0, 1])

    def apply_action(self, action: np.ndarray) -> None:
        """Velocity-control the sliders, held inside the joint range like the MuJoCo limits."""
        cid = self.cid
        x, y = self._pusher_xy  # from the last read(), which the env calls after every reset/step
        target = [float(a) * MAX_SPEED for a in action.tolist()]
        for i, pos in enumerate((x, y)):
            if (pos >= PUSHER_RANGE and target[i] > 0) or (pos <= -PUSHER_RANGE and target[i] < 0):
                target[i] = 0.0
        pb.setJointMotorControlArray(self.pusher, (0, 1), pb.VELOCITY_CONTROL, targetVelocities=target,
                                     forces=(MAX_FORCE, MAX_FORCE), physicsClientId=cid)

    def read(self) -> PushCubeState:
        """Pusher position/velocity, cube position and yaw, goal position."""
        cid = self.cid
        (px, vx), (py, vy) = ((s[0], s[1]) for s in pb.getJointStates(self.pusher, (0, 1),
                                                                       physicsClientId=cid))
        (cx, cy, _), (qx, qy, qz, qw) = pb.getBasePositionAndOrientation(self.cube, physicsClientId=cid)
        yaw = math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
        self._pusher_xy = (px, py)
        return PushCubeState(px, py, vx, vy, cx, cy, yaw, *self._goal)
