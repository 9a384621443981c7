"""PushT simulated in MuJoCo: a pusher on two velocity-controlled slide joints and a free T block.

Shares with ``pybullet_push_t.py``: the T's two boxes (``RECTS`` x ``T_HEIGHT``) welded into one
free body of ``T_MASS`` with uniform density (so the same centroid and inertia), friction
``FRICTION`` on every contact pair, the pusher (cylinder of ``PUSHER_RADIUS``, 1 kg, touching only
the block), its velocity servo (+-20 N, +-``MAX_SPEED``, joint range +-``PUSHER_RANGE``; here
a gain of 50 N s/m, PyBullet's velocity motor is stiffer), 5 ms physics steps, 10 per control
step (20 Hz), the visual-only goal outline and the cameras. MuJoCo combines two geoms' friction
by taking the larger, so every geom carries ``FRICTION`` itself.
"""

import math

import mujoco

from envs.scenes.mujoco_pusher import MujocoPusherScene, pusher_scene_xml
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

GOAL_Z = 0.0005  # the outline is a film on the table, under the block
RGBA = {"table": "0.6 0.6 0.55 1", "pusher": "0.2 0.3 0.9 1", "block": "0.47 0.53 0.6 1",
        "goal": "0.2 0.8 0.2 0.5"}


def _t_geoms(names: tuple[str, str], half_z: float, z: float, extra: str) -> str:
    """Two box geoms forming the T in a body frame at its centroid."""
    geoms = []
    for name, (cx, cy, hx, hy) in zip(names, RECTS, strict=True):
        geoms.append(f'<geom name="{name}" type="box" size="{hx} {hy} {half_z}" pos="{cx} {cy} {z}" '
                     f'{extra.format(mass=T_MASS * 4 * hx * hy / T_AREA)}/>')
    return "\n      ".join(geoms)


XML = pusher_scene_xml(
    "push_t", CAMERAS, table_half=0.45, pusher_radius=PUSHER_RADIUS, pusher_range=PUSHER_RANGE,
    max_speed=MAX_SPEED, table_rgba=RGBA["table"], pusher_rgba=RGBA["pusher"],
    defaults=f'<default><geom friction="{FRICTION} 0.005 0.0001"/></default>', bodies=f"""
    <body name="block" pos="0 0 {T_HEIGHT / 2}">
      <freejoint name="block"/>
      {_t_geoms(("bar", "stem"), T_HEIGHT / 2, 0.0,
                'mass="{mass}" rgba="' + RGBA["block"] + '" contype="3" conaffinity="3"')}
    </body>
    <body name="goal" mocap="true" pos="0 0 {GOAL_Z}">
      {_t_geoms(("goal_bar", "goal_stem"), GOAL_Z, 0.0,
                'rgba="' + RGBA["goal"] + '" contype="0" conaffinity="0"')}
    </body>""")


class MujocoPushTScene(MujocoPusherScene):
    """Named accessors over the PushT model; 20 Hz control (10 physics steps of 5 ms)."""

    dynamic_attrs = ("_goal",)  # changed by reset/step (copied by get_state)

    def __init__(self, frame_skip: int = 10) -> None:
        super().__init__(XML, frame_skip, CAMERAS, LABELS, object_joint="block")
        self._goal = (0.0, 0.0, 0.0)

    def reset(self, layout: PushTLayout) -> None:
        """Place the pusher, the block (flat on the table) and the goal outline."""
        x, y, yaw = layout.block_pose
        self.place(layout.pusher_xy, (x, y, T_HEIGHT / 2), yaw)
        gx, gy, gyaw = layout.goal_pose
        self.data.mocap_pos[self._goal_mocap] = (gx, gy, GOAL_Z)
        self.data.mocap_quat[self._goal_mocap] = (math.cos(gyaw / 2), 0.0, 0.0, math.sin(gyaw / 2))
        self._goal = (float(gx), float(gy), float(gyaw))  # mocap: never moves
        mujoco.mj_forward(self.model, self.data)

    def read(self) -> PushTState:
        """Pusher position/velocity, block pose and uprightness, goal pose."""
        q, v = self._qpos.tolist(), self._qvel.tolist()
        return PushTState(*self.pusher_state(q, v), *self.object_pose(q), *self._goal)
