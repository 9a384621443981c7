"""PushT simulated in PyBullet: a pusher on two velocity-controlled prismatic joints and a T block.

Mirrors ``mujoco_push_t.py``: the T's two boxes as one compound rigid body with the same mass,
centroid and (exact, uniform-density) inertia, friction ``FRICTION`` on every contact pair, the
pusher (cylinder of ``PUSHER_RADIUS``, 1 kg, touching only the block), its velocity servo (+-20 N,
+-``MAX_SPEED``, held inside +-``PUSHER_RANGE``), 5 ms physics steps, 10 per control step (20 Hz),
the visual-only goal outline and the cameras. PyBullet multiplies two bodies' friction
coefficients, so each body carries sqrt(``FRICTION``).
"""

import math

import pybullet as pb

from envs.scenes.pybullet_pusher import PybulletPusherScene
from envs.tasks.push_t import (
    CAMERAS,
    FRICTION,
    LABELS,
    MAX_SPEED,
    PUSHER_RADIUS,
    PUSHER_RANGE,
    RECTS,
    T_AREA,
    T_HEIGHT,
    T_MASS,
    PushTLayout,
    PushTState,
)

GOAL_Z = 0.0005
RGBA = {"table": [0.6, 0.6, 0.55, 1], "pusher": [0.2, 0.3, 0.9, 1], "block": [0.47, 0.53, 0.6, 1],
        "goal": [0.2, 0.8, 0.2, 0.5]}


def t_inertia() -> list[float]:
    """Principal moments (kg m^2) of the uniform-density T about its centroid, as MuJoCo computes."""
    out = [0.0, 0.0, 0.0]
    for cx, cy, hx, hy in RECTS:
        m, (a, b, c) = T_MASS * 4 * hx * hy / T_AREA, (2 * hx, 2 * hy, T_HEIGHT)
        out[0] += m * (b * b + c * c) / 12 + m * cy * cy
        out[1] += m * (a * a + c * c) / 12 + m * cx * cx
        out[2] += m * (a * a + b * b) / 12 + m * (cx * cx + cy * cy)
    return out


class PybulletPushTScene(PybulletPusherScene):
    """Named accessors over the PushT world in PyBullet (DIRECT mode, no GL needed)."""

    dynamic_attrs = ("_goal",)  # changed by reset/step (copied by get_state)

    def __init__(self, frame_skip: int = 10) -> None:
        super().__init__(frame_skip, CAMERAS, LABELS, MAX_SPEED, PUSHER_RANGE)
        self._build()

    def _build(self) -> None:
        c = self.client
        half = [0.45, 0.45, 0.01]
        self.table = c.createMultiBody(0, c.createCollisionShape(pb.GEOM_BOX, halfExtents=half),
                                       c.createVisualShape(pb.GEOM_BOX, halfExtents=half,
                                                           rgbaColor=RGBA["table"]), [0, 0, -0.01])
        shape = c.createCollisionShapeArray(**self._t_shape(T_HEIGHT))
        look = c.createVisualShapeArray(**self._t_shape(T_HEIGHT, "visualFramePositions"),
                                        rgbaColors=[RGBA["block"]] * 2)
        self.block = self.object = c.createMultiBody(T_MASS, shape, look)
        c.changeDynamics(self.block, -1, localInertiaDiagonal=t_inertia())
        self.make_pusher(PUSHER_RADIUS, RGBA["pusher"])
        self.goal = c.createMultiBody(0, -1, c.createVisualShapeArray(
            **self._t_shape(2 * GOAL_Z, "visualFramePositions"), rgbaColors=[RGBA["goal"]] * 2))
        mu = math.sqrt(FRICTION)
        for body, link in ((self.table, -1), (self.block, -1), (self.pusher, 1)):
            c.changeDynamics(body, link, lateralFriction=mu)
        for link in (-1, 0, 1):
            c.setCollisionFilterPair(self.pusher, self.table, link, -1, 0)
        for body, name in ((self.table, "table"), (self.pusher, "pusher"), (self.block, "block"),
                           (self.goal, "goal")):
            self.label(body, name)
        self._goal = (0.0, 0.0, 0.0)

    @staticmethod
    def _t_shape(height: float, frames: str = "collisionFramePositions") -> dict:
        """Arguments of create{Collision,Visual}ShapeArray for the T's two boxes."""
        return {"shapeTypes": [pb.GEOM_BOX] * 2,
                "halfExtents": [[hx, hy, height / 2] for _, _, hx, hy in RECTS],
                frames: [[cx, cy, 0.0] for cx, cy, _, _ in RECTS]}

    def reset(self, layout: PushTLayout) -> None:
        """Place the pusher, the block (flat on the table) and the goal outline; zero velocities."""
        c = self.client
        x, y, yaw = layout.block_pose
        c.resetBasePositionAndOrientation(self.block, [x, y, T_HEIGHT / 2],
                                          c.getQuaternionFromEuler([0, 0, yaw]))
        c.resetBaseVelocity(self.block, [0, 0, 0], [0, 0, 0])
        self.reset_pusher(layout.pusher_xy)
        gx, gy, gyaw = layout.goal_pose
        self._goal = (float(gx), float(gy), float(gyaw))
        c.resetBasePositionAndOrientation(self.goal, [gx, gy, GOAL_Z],
                                          c.getQuaternionFromEuler([0, 0, gyaw]))
        self.after_reset()

    def read(self) -> PushTState:
        """Pusher position/velocity, block pose and uprightness, goal pose."""
        return PushTState(*self.pusher_state(), *self.object_state(), *self._goal)
