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

from envs.cameras import mujoco_camera_xml
from envs.scenes.mujoco_base import MujocoScene
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


# Collision bits: the pusher (2) touches only the block (3); the table (1) touches only the block.
XML = f"""
<mujoco model="push_t">
  <option timestep="0.005" integrator="implicitfast"/>
  <visual>
    <global offwidth="640" offheight="640"/>
    <headlight ambient="0.3 0.3 0.3" diffuse="0.3 0.3 0.3" specular="0 0 0"/>
  </visual>
  <default><geom friction="{FRICTION} 0.005 0.0001"/></default>
  <worldbody>
    <light pos="0 0 1.5" dir="0 0 -1" directional="true" castshadow="false"
           diffuse="0.5 0.5 0.5"/>
    <geom name="table" type="plane" size="0.45 0.45 0.01" rgba="{RGBA["table"]}"
          contype="1" conaffinity="1"/>
    {"".join(mujoco_camera_xml(c) for c in CAMERAS)}
    <body name="pusher" pos="0 0 0.03">
      <joint name="pusher_x" type="slide" axis="1 0 0" range="{-PUSHER_RANGE} {PUSHER_RANGE}"/>
      <joint name="pusher_y" type="slide" axis="0 1 0" range="{-PUSHER_RANGE} {PUSHER_RANGE}"/>
      <geom name="pusher" type="cylinder" size="{PUSHER_RADIUS} 0.03" mass="1"
            rgba="{RGBA["pusher"]}" contype="2" conaffinity="2"/>
    </body>
    <body name="block" pos="0 0 {T_HEIGHT / 2}">
      <freejoint name="block"/>
      {_t_geoms(("bar", "stem"), T_HEIGHT / 2, 0.0,
                'mass="{mass}" rgba="' + RGBA["block"] + '" contype="3" conaffinity="3"')}
    </body>
    <body name="goal" mocap="true" pos="0 0 {GOAL_Z}">
      {_t_geoms(("goal_bar", "goal_stem"), GOAL_Z, 0.0,
                'rgba="' + RGBA["goal"] + '" contype="0" conaffinity="0"')}
    </body>
  </worldbody>
  <actuator>
    <velocity name="pusher_x" joint="pusher_x" kv="50" ctrlrange="{-MAX_SPEED} {MAX_SPEED}"
              forcerange="-20 20"/>
    <velocity name="pusher_y" joint="pusher_y" kv="50" ctrlrange="{-MAX_SPEED} {MAX_SPEED}"
              forcerange="-20 20"/>
  </actuator>
</mujoco>
"""


class MujocoPushTScene(MujocoScene):
    """Named accessors over the PushT model; 20 Hz control (10 physics steps of 5 ms)."""

    def __init__(self, frame_skip: int = 10) -> None:
        super().__init__(mujoco.MjModel.from_xml_string(XML), frame_skip, CAMERAS, LABELS)
        m = self.model
        self._pusher_q = [int(m.joint(n).qposadr[0]) for n in ("pusher_x", "pusher_y")]
        self._pusher_v = [int(m.joint(n).dofadr[0]) for n in ("pusher_x", "pusher_y")]
        self._block_q = int(m.joint("block").qposadr[0])
        self._goal_mocap = int(m.body("goal").mocapid[0])
        self._goal = (0.0, 0.0, 0.0)

    def reset(self, layout: PushTLayout) -> None:
        """Place the pusher, the block (flat on the table) and the goal outline."""
        mujoco.mj_resetData(self.model, self.data)
        q = self.data.qpos
        q[self._pusher_q] = layout.pusher_xy
        x, y, yaw = layout.block_pose
        q[self._block_q:self._block_q + 7] = (x, y, T_HEIGHT / 2, math.cos(yaw / 2), 0.0, 0.0,
                                              math.sin(yaw / 2))
        gx, gy, gyaw = layout.goal_pose
        self.data.mocap_pos[self._goal_mocap] = (gx, gy, GOAL_Z)
        self.data.mocap_quat[self._goal_mocap] = (math.cos(gyaw / 2), 0.0, 0.0, math.sin(gyaw / 2))
        self._goal = (float(gx), float(gy), float(gyaw))  # mocap: never moves
        mujoco.mj_forward(self.model, self.data)

    def read(self) -> PushTState:
        """Pusher position/velocity, block pose and uprightness, goal pose."""
        q, v = self._qpos.tolist(), self._qvel.tolist()
        i, (px, py), (vx, vy) = self._block_q, self._pusher_q, self._pusher_v
        w, x, y, z = q[i + 3:i + 7]
        yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
        upright = 1.0 - 2.0 * (x * x + y * y)
        return PushTState(q[px], q[py], v[vx], v[vy], q[i], q[i + 1], yaw, upright, *self._goal)
