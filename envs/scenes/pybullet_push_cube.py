"""PushCube simulated in PyBullet: a pusher on two velocity-controlled prismatic joints and a cube.

Mirrors ``mujoco_push_cube.py`` (same sizes, masses, effective friction, speed and force limits,
5 ms physics steps, 20 Hz control, cameras); the task logic is shared.
"""

import pybullet as pb

from envs.scenes.pybullet_pusher import PybulletPusherScene
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

# MuJoCo combines two geoms' friction by taking the larger: its table and pusher keep the default 1,
# so every contact with the cube (0.5) slides at 1.0. PyBullet multiplies, so each body carries 1.0.
FRICTION = 1.0


class PybulletPushCubeScene(PybulletPusherScene):
    """Named accessors over the PushCube world in PyBullet (DIRECT mode, no GL needed)."""

    dynamic_attrs = ("_goal",)  # changed by reset/step (copied by get_state)

    def __init__(self, frame_skip: int = 10) -> None:
        super().__init__(frame_skip, CAMERAS, LABELS, MAX_SPEED, PUSHER_RANGE)
        c = self.client
        table = c.createCollisionShape(pb.GEOM_BOX, halfExtents=[0.4, 0.4, 0.01])
        self.table = c.createMultiBody(0, table, c.createVisualShape(
            pb.GEOM_BOX, halfExtents=[0.4, 0.4, 0.01], rgbaColor=[0.6, 0.6, 0.55, 1]), [0, 0, -0.01])
        box = [CUBE_HALF] * 3
        self.cube = self.object = c.createMultiBody(
            0.1, c.createCollisionShape(pb.GEOM_BOX, halfExtents=box),
            c.createVisualShape(pb.GEOM_BOX, halfExtents=box, rgbaColor=[0.9, 0.2, 0.2, 1]))
        self.make_pusher(PUSHER_RADIUS, [0.2, 0.3, 0.9, 1])
        self.goal = c.createMultiBody(0, -1, c.createVisualShape(
            pb.GEOM_CYLINDER, radius=GOAL_TOLERANCE, length=0.001, rgbaColor=[0.2, 0.8, 0.2, 0.6]))
        for body, link in ((self.table, -1), (self.cube, -1), (self.pusher, 1)):
            c.changeDynamics(body, link, lateralFriction=FRICTION)
        c.setCollisionFilterPair(self.pusher, self.table, 1, -1, 0)
        c.setCollisionFilterPair(self.pusher, self.table, 0, -1, 0)
        for body, name in ((self.table, "table"), (self.pusher, "pusher"), (self.cube, "cube"),
                           (self.goal, "goal")):
            self.label(body, name)
        self._goal = (0.0, 0.0)

    def reset(self, layout: PushCubeLayout) -> None:
        """Place pusher, cube (resting on the table, rotated by yaw) and goal; zero velocities."""
        c = self.client
        self.reset_pusher(layout.pusher_xy)
        quat = c.getQuaternionFromEuler([0, 0, layout.cube_yaw])
        c.resetBasePositionAndOrientation(self.cube, [*layout.cube_xy, CUBE_HALF], quat)
        c.resetBaseVelocity(self.cube, [0, 0, 0], [0, 0, 0])
        self._goal = (float(layout.goal_xy[0]), float(layout.goal_xy[1]))
        c.resetBasePositionAndOrientation(self.goal, [*self._goal, 0.0005], [0, 0, 0, 1])
        self.after_reset()

    def read(self) -> PushCubeState:
        """Pusher position/velocity, cube position and yaw, goal position."""
        x, y, yaw, _ = self.object_state()
        return PushCubeState(*self.pusher_state(), x, y, yaw, *self._goal)
