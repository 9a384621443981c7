"""What the MuJoCo table-top pushing scenes share: the MJCF shell, the pusher and its servo.

The pusher is a 1 kg cylinder on an x-slide and a y-slide (range ``+-pusher_range``), driven by
velocity servos (gain 50 N s/m, +-20 N, +-``max_speed``), 0.03 m above the table so it stands on
it. Collision bits: the pusher (2) touches only the pushed object (3); the table (1) touches only
the object. A subclass passes its object and goal bodies into :func:`pusher_scene_xml` and reads
its task state with :meth:`MujocoPusherScene.pusher_state` and :meth:`~MujocoPusherScene.object_pose`.
"""

import math
from collections.abc import Sequence

import mujoco

from envs.cameras import CameraSpec, mujoco_camera_xml
from envs.scenes.mujoco_base import VISUAL_XML, MujocoScene


def pusher_scene_xml(name: str, cameras: Sequence[CameraSpec], *, table_half: float,
                     pusher_radius: float, pusher_range: float, max_speed: float, bodies: str,
                     defaults: str = "", table_rgba: str = "0.6 0.6 0.55 1",
                     pusher_rgba: str = "0.2 0.3 0.9 1") -> str:
    """A complete MJCF: table, light, cameras, the pusher and its actuators, and ``bodies``."""
    r = pusher_range
    return f"""
<mujoco model="{name}">
  <option timestep="0.005" integrator="implicitfast"/>
  {VISUAL_XML}
  {defaults}
  <worldbody>
    <light pos="0 0 1.5" dir="0 0 -1" directional="true" castshadow="false"
           diffuse="0.5 0.5 0.5"/>
    <geom name="table" type="plane" size="{table_half} {table_half} 0.01" rgba="{table_rgba}"
          contype="1" conaffinity="1"/>
    {"".join(mujoco_camera_xml(c) for c in cameras)}
    <body name="pusher" pos="0 0 0.03">
      <joint name="pusher_x" type="slide" axis="1 0 0" range="{-r} {r}"/>
      <joint name="pusher_y" type="slide" axis="0 1 0" range="{-r} {r}"/>
      <geom name="pusher" type="cylinder" size="{pusher_radius} 0.03" mass="1"
            rgba="{pusher_rgba}" contype="2" conaffinity="2"/>
    </body>
    {bodies}
  </worldbody>
  <actuator>
    <velocity name="pusher_x" joint="pusher_x" kv="50" ctrlrange="{-max_speed} {max_speed}"
              forcerange="-20 20"/>
    <velocity name="pusher_y" joint="pusher_y" kv="50" ctrlrange="{-max_speed} {max_speed}"
              forcerange="-20 20"/>
  </actuator>
</mujoco>
"""


class MujocoPusherScene(MujocoScene):
    """A pusher scene's accessors: the pusher joints, the object's free joint, the goal mocap."""

    def __init__(self, xml: str, frame_skip: int, cameras: tuple[CameraSpec, ...],
                 labels: tuple[str, ...], object_joint: str) -> None:
        super().__init__(mujoco.MjModel.from_xml_string(xml), frame_skip, cameras, labels)
        m = self.model
        self._pusher_q = [int(m.joint(n).qposadr[0]) for n in ("pusher_x", "pusher_y")]
        self._pusher_v = [int(m.joint(n).dofadr[0]) for n in ("pusher_x", "pusher_y")]
        self._object_q = int(m.joint(object_joint).qposadr[0])
        self._goal_mocap = int(m.body("goal").mocapid[0])

    def place(self, pusher_xy: Sequence[float], object_xyz: Sequence[float], yaw: float) -> None:
        """Zero the world, then put the pusher and the object (turned by ``yaw`` about z)."""
        mujoco.mj_resetData(self.model, self.data)
        q = self.data.qpos
        q[self._pusher_q] = pusher_xy
        i = self._object_q
        q[i:i + 7] = (*object_xyz, math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))

    def pusher_state(self, q: list[float], v: list[float]) -> tuple[float, float, float, float]:
        """Pusher x, y, vx, vy from listed qpos/qvel."""
        (px, py), (vx, vy) = self._pusher_q, self._pusher_v
        return q[px], q[py], v[vx], v[vy]

    def object_pose(self, q: list[float]) -> tuple[float, float, float, float]:
        """The object's x, y, yaw and uprightness (z of its local z axis) from listed qpos."""
        i = self._object_q
        w, x, y, z = q[i + 3:i + 7]
        yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
        return q[i], q[i + 1], yaw, 1.0 - 2.0 * (x * x + y * y)
