"""PushCube simulated in PyBullet: a pusher on two velocity-controlled prismatic joints and a cube.

Mirrors ``mujoco_push_cube.py`` (same sizes, masses, friction, speed and force limits, 5 ms physics
steps, 20 Hz control); the task logic is shared. One ``BulletClient`` per scene, never the
implicit global client, so several envs coexist in one process.
"""

import math

import numpy as np
import pybullet as pb
from pybullet_utils.bullet_client import BulletClient

from envs.errors import EnvConfigError
from envs.tasks.push_cube import (
    CUBE_HALF,
    GOAL_TOLERANCE,
    MAX_SPEED,
    PUSHER_RADIUS,
    PUSHER_RANGE,
    PushCubeLayout,
    PushCubeState,
)

TIMESTEP = 0.005
MAX_FORCE = 20.0  # N, as the MuJoCo actuators' forcerange
PUSHER_Z = 0.03
BLOW_UP_SPEED = 50.0  # m/s: no body in this scene can legitimately move this fast
CAMERA_HEIGHT, CAMERA_FOV = 0.8, 45.0  # the MuJoCo "top" camera


class PybulletPushCubeScene:
    """Named accessors over the PushCube world in PyBullet (DIRECT mode, no GL needed)."""

    cameras = ("top",)
    action_dim = 2

    def __init__(self, frame_skip: int = 10) -> None:
        if frame_skip < 1:
            raise EnvConfigError(f"frame_skip must be a positive integer, got {frame_skip}")
        self.frame_skip, self.control_dt = frame_skip, TIMESTEP * frame_skip
        self.client = BulletClient(connection_mode=pb.DIRECT)
        self._build()

    def _build(self) -> None:
        c = self.client
        c.setTimeStep(TIMESTEP)
        c.setGravity(0, 0, -9.81)
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
        self._goal = (0.0, 0.0)

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
        c.resetBasePositionAndOrientation(self.goal, [*self._goal, 0.0005], [0, 0, 0, 1])

    def step(self, action: np.ndarray) -> str | None:
        """Velocity-control the sliders (held inside the joint range) for ``frame_skip`` steps."""
        c = self.client
        (x, vx), (y, vy) = ((s[0], s[1]) for s in c.getJointStates(self.pusher, [0, 1]))
        target = [float(a) * MAX_SPEED for a in action.tolist()]
        for i, pos in enumerate((x, y)):  # the MuJoCo scene's joint limits
            if (pos >= PUSHER_RANGE and target[i] > 0) or (pos <= -PUSHER_RANGE and target[i] < 0):
                target[i] = 0.0
        c.setJointMotorControlArray(self.pusher, [0, 1], pb.VELOCITY_CONTROL,
                                    targetVelocities=target, forces=[MAX_FORCE, MAX_FORCE])
        for _ in range(self.frame_skip):
            c.stepSimulation()
        return self._instability()

    def _instability(self) -> str | None:
        lin, ang = self.client.getBaseVelocity(self.cube)
        pos, _ = self.client.getBasePositionAndOrientation(self.cube)
        values = [*lin, *ang, *pos]
        if not all(math.isfinite(v) for v in values) or max(map(abs, lin)) > BLOW_UP_SPEED:
            return f"PyBullet cube state diverged: position {pos}, velocity {lin}"
        return None

    def read(self) -> PushCubeState:
        """Pusher position/velocity, cube position and yaw, goal position."""
        c = self.client
        (px, vx), (py, vy) = ((s[0], s[1]) for s in c.getJointStates(self.pusher, [0, 1]))
        (cx, cy, _), (qx, qy, qz, qw) = c.getBasePositionAndOrientation(self.cube)
        yaw = math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
        return PushCubeState(px, py, vx, vy, cx, cy, yaw, *self._goal)

    def render(self, camera: str, width: int, height: int) -> np.ndarray:
        """RGB (height, width, 3) uint8 from the top-down camera (TinyRenderer, no GL)."""
        if camera not in self.cameras:
            raise EnvConfigError(f"camera={camera!r} unknown; valid choices: {list(self.cameras)}")
        c = self.client
        view = c.computeViewMatrix([0, 0, CAMERA_HEIGHT], [0, 0, 0], [0, 1, 0])
        proj = c.computeProjectionMatrixFOV(CAMERA_FOV, width / height, 0.05, 2.0)
        _, _, rgba, _, _ = c.getCameraImage(width, height, view, proj, renderer=pb.ER_TINY_RENDERER)
        return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[..., :3].copy()

    def close(self) -> None:
        """Disconnect this scene's physics server."""
        if self.client is not None:
            self.client.disconnect()
            self.client = None

    def __getstate__(self) -> dict:
        """PyBullet clients do not pickle."""
        raise TypeError("PybulletPushCubeScene cannot be pickled (PyBullet clients do not pickle); "
                        "recreate the env with gymnasium.make and reset it with the same seed")
