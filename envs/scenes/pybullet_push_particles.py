"""PushParticles simulated in PyBullet: PushCube's pusher and ``N_PARTICLES`` free pucks.

Mirrors ``mujoco_push_particles.py``: the same pucks, masses, pusher and servo, 5 ms physics
steps, 20 Hz control, goal disk and cameras. Overlapping pairs are sorted (``deterministicOverlappingPairs``)
so snapshots replay exactly. PyBullet multiplies two bodies' friction
coefficients, so each body carries sqrt(``FRICTION``). Every step reads each puck once (pose and
velocity) for the task state and the blow-up check.
"""

import math

import pybullet as pb

from envs.scenes.pybullet_base import BLOW_UP_JOINT_SPEED, BLOW_UP_SPEED
from envs.scenes.pybullet_pusher import PybulletPusherScene
from envs.tasks.push_particles import (
    CAMERAS,
    FRICTION,
    GOAL_RADIUS,
    LABELS,
    MAX_SPEED,
    N_PARTICLES,
    PARTICLE_HALF_HEIGHT,
    PARTICLE_MASS,
    PARTICLE_RADIUS,
    PUSHER_RADIUS,
    PUSHER_RANGE,
    PushParticlesLayout,
    PushParticlesState,
)

RGBA = {"table": [0.6, 0.6, 0.55, 1], "pusher": [0.2, 0.3, 0.9, 1], "particle": [0.9, 0.45, 0.1, 1],
        "goal": [0.2, 0.8, 0.2, 0.6]}


class PybulletPushParticlesScene(PybulletPusherScene):
    """Named accessors over the PushParticles world in PyBullet (DIRECT mode, no GL needed)."""

    dynamic_attrs = ("_goal", "_particles")  # changed by reset/step (copied by get_state)

    def __init__(self, frame_skip: int = 10) -> None:
        super().__init__(frame_skip, CAMERAS, LABELS, MAX_SPEED, PUSHER_RANGE)
        c = self.client
        # Bullet orders overlapping pairs by their insertion history, which a restored snapshot does
        # not share: with a dozen pucks in contact, replays drifted by up to 4e-5 m. Sorted pairs make
        # them exact (tests/test_task_push_particles.py).
        c.setPhysicsEngineParameter(deterministicOverlappingPairs=1)
        half = [0.4, 0.4, 0.01]
        self.table = c.createMultiBody(0, c.createCollisionShape(pb.GEOM_BOX, halfExtents=half),
                                       c.createVisualShape(pb.GEOM_BOX, halfExtents=half,
                                                           rgbaColor=RGBA["table"]), [0, 0, -0.01])
        shape = c.createCollisionShape(pb.GEOM_CYLINDER, radius=PARTICLE_RADIUS,
                                       height=2 * PARTICLE_HALF_HEIGHT)
        look = c.createVisualShape(pb.GEOM_CYLINDER, radius=PARTICLE_RADIUS,
                                   length=2 * PARTICLE_HALF_HEIGHT, rgbaColor=RGBA["particle"])
        self.particles = [c.createMultiBody(PARTICLE_MASS, shape, look) for _ in range(N_PARTICLES)]
        self.object = self.particles[0]
        self.make_pusher(PUSHER_RADIUS, RGBA["pusher"])
        self.goal = c.createMultiBody(0, -1, c.createVisualShape(
            pb.GEOM_CYLINDER, radius=GOAL_RADIUS, length=0.001, rgbaColor=RGBA["goal"]))
        mu = math.sqrt(FRICTION)
        for body, link in ((self.table, -1), (self.pusher, 1), *((p, -1) for p in self.particles)):
            c.changeDynamics(body, link, lateralFriction=mu)
        for link in (-1, 0, 1):
            c.setCollisionFilterPair(self.pusher, self.table, link, -1, 0)
        for body, name in ((self.table, "table"), (self.pusher, "pusher"), (self.goal, "goal"),
                           *((p, "particle") for p in self.particles)):
            self.label(body, name)
        self._goal = (0.0, 0.0)
        self._particles: tuple[float, ...] = (0.0,) * (2 * N_PARTICLES)

    def reset(self, layout: PushParticlesLayout) -> None:
        """Place the pusher, the pucks (upright on the table) and the goal disk; zero velocities."""
        c = self.client
        # Lift the pucks apart and let Bullet drop their contact pairs first: pairs kept from the
        # last episode carry warm-start impulses into the first steps, so a seeded reset would not
        # repeat its episode (Gymnasium's check_env caught ~1e-5 m differences).
        for i, body in enumerate(self.particles):
            c.resetBasePositionAndOrientation(body, [0, 0, 1.0 + 0.1 * i], [0, 0, 0, 1])
        c.performCollisionDetection()
        self.reset_pusher(layout.pusher_xy)
        for body, (x, y) in zip(self.particles, layout.particles_xy, strict=True):
            c.resetBasePositionAndOrientation(body, [x, y, PARTICLE_HALF_HEIGHT], [0, 0, 0, 1])
            c.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0])
        self._goal = (float(layout.goal_xy[0]), float(layout.goal_xy[1]))
        c.resetBasePositionAndOrientation(self.goal, [*self._goal, 0.0005], [0, 0, 0, 1])
        self.after_reset()

    def after_reset(self) -> None:
        """Read the pucks' positions after a reset (the pusher's is known), for the first state."""
        get = self.client.getBasePositionAndOrientation
        self._particles = tuple(c for body in self.particles for c in get(body)[0][:2])

    def check_blow_up(self) -> str | None:
        """Read the pusher and every puck once (kept for the task state), and check them."""
        c = self.client
        (px, vx, *_), (py, vy, *_) = c.getJointStates(self.pusher, (0, 1))
        self._pusher = (px, py, vx, vy)
        if not (-BLOW_UP_JOINT_SPEED < vx < BLOW_UP_JOINT_SPEED
                and -BLOW_UP_JOINT_SPEED < vy < BLOW_UP_JOINT_SPEED and math.isfinite(px + py)):
            return f"PyBullet pusher state diverged: position {(px, py)}, velocity {(vx, vy)}"
        xy, fast = [], BLOW_UP_SPEED
        for i, body in enumerate(self.particles):
            pos = c.getBasePositionAndOrientation(body)[0]
            (lx, ly, lz), _ = c.getBaseVelocity(body)
            if not (-fast < lx < fast and -fast < ly < fast and -fast < lz < fast):  # False for NaN
                return f"PyBullet particle {i} state diverged: position {pos}, velocity {(lx, ly, lz)}"
            xy += pos[:2]
        self._particles = tuple(xy)
        return None

    def read(self) -> PushParticlesState:
        """Pusher position/velocity, each puck's x, y, goal position."""
        return PushParticlesState(*self.pusher_state(), self._particles, *self._goal)
