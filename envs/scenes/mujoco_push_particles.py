"""PushParticles simulated in MuJoCo: PushCube's pusher and ``N_PARTICLES`` free pucks.

Shares with ``pybullet_push_particles.py``: the pucks (cylinders of ``PARTICLE_RADIUS`` x
``2 * PARTICLE_HALF_HEIGHT``, ``PARTICLE_MASS`` each), friction ``FRICTION`` on every contact
pair (MuJoCo combines two geoms' coefficients by the larger, so every geom carries it), the pusher
and its servo (``mujoco_pusher.py``), 5 ms physics steps, 10 per control step (20 Hz), the
visual-only goal disk and the cameras. Pucks are bodies ``particle_<i>``, all labelled ``particle``.
"""

import mujoco

from envs.scenes.mujoco_pusher import MujocoPusherScene, pusher_scene_xml
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

PARTICLE_RGBA = "0.9 0.45 0.1 1"


def _particle_xml(i: int) -> str:
    return f"""
    <body name="particle_{i}" pos="0 0 {PARTICLE_HALF_HEIGHT}">
      <freejoint name="particle_{i}"/>
      <geom name="particle_{i}" type="cylinder" size="{PARTICLE_RADIUS} {PARTICLE_HALF_HEIGHT}"
            mass="{PARTICLE_MASS}" rgba="{PARTICLE_RGBA}" contype="3" conaffinity="3"/>
    </body>"""


XML = pusher_scene_xml(
    "push_particles", CAMERAS, table_half=0.4, pusher_radius=PUSHER_RADIUS,
    pusher_range=PUSHER_RANGE, max_speed=MAX_SPEED,
    defaults=f'<default><geom friction="{FRICTION} 0.005 0.0001"/></default>',
    bodies="".join(_particle_xml(i) for i in range(N_PARTICLES)) + f"""
    <body name="goal" mocap="true" pos="0 0 0.0005">
      <geom name="goal" type="cylinder" size="{GOAL_RADIUS} 0.0005" rgba="0.2 0.8 0.2 0.6"
            contype="0" conaffinity="0"/>
    </body>""")


class MujocoPushParticlesScene(MujocoPusherScene):
    """Named accessors over the PushParticles model; 20 Hz control (10 physics steps of 5 ms)."""

    dynamic_attrs = ("_goal",)  # changed by reset/step (copied by get_state)

    def __init__(self, frame_skip: int = 10) -> None:
        super().__init__(XML, frame_skip, CAMERAS, LABELS, object_joint="particle_0")
        self._particle_q = [int(self.model.joint(f"particle_{i}").qposadr[0]) for i in range(N_PARTICLES)]
        self._goal = (0.0, 0.0)

    def reset(self, layout: PushParticlesLayout) -> None:
        """Place the pusher, the pucks (upright on the table) and the goal disk."""
        self.place(layout.pusher_xy, (*layout.particles_xy[0], PARTICLE_HALF_HEIGHT), 0.0)
        q = self.data.qpos
        for i, (x, y) in zip(self._particle_q, layout.particles_xy, strict=True):
            q[i:i + 7] = (x, y, PARTICLE_HALF_HEIGHT, 1.0, 0.0, 0.0, 0.0)
        self.data.mocap_pos[self._goal_mocap] = (*layout.goal_xy, 0.0005)
        self._goal = (float(layout.goal_xy[0]), float(layout.goal_xy[1]))  # mocap: never moves
        mujoco.mj_forward(self.model, self.data)

    def read(self) -> PushParticlesState:
        """Pusher position/velocity, each puck's x, y, goal position."""
        q, v = self._qpos.tolist(), self._qvel.tolist()
        xy = tuple(c for i in self._particle_q for c in q[i:i + 2])
        return PushParticlesState(*self.pusher_state(q, v), xy, *self._goal)
