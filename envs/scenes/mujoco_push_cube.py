"""PushCube simulated in MuJoCo: a pusher on two velocity-controlled slide joints and a free cube."""

import math

import mujoco

from envs.cameras import mujoco_camera_xml
from envs.scenes.mujoco_base import MujocoScene
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

# Collision bits: the pusher (2) touches only the cube (3); the table (1) touches only the cube.
XML = f"""
<mujoco model="push_cube">
  <option timestep="0.005" integrator="implicitfast"/>
  <visual>
    <global offwidth="640" offheight="640"/>
    <headlight ambient="0.3 0.3 0.3" diffuse="0.3 0.3 0.3" specular="0 0 0"/>
  </visual>
  <worldbody>
    <light pos="0 0 1.5" dir="0 0 -1" directional="true" castshadow="false"
           diffuse="0.5 0.5 0.5"/>
    <geom name="table" type="plane" size="0.4 0.4 0.01" rgba="0.6 0.6 0.55 1"
          contype="1" conaffinity="1"/>
    {"".join(mujoco_camera_xml(c) for c in CAMERAS)}
    <body name="pusher" pos="0 0 0.03">
      <joint name="pusher_x" type="slide" axis="1 0 0" range="{-PUSHER_RANGE} {PUSHER_RANGE}"/>
      <joint name="pusher_y" type="slide" axis="0 1 0" range="{-PUSHER_RANGE} {PUSHER_RANGE}"/>
      <geom name="pusher" type="cylinder" size="{PUSHER_RADIUS} 0.03" mass="1"
            rgba="0.2 0.3 0.9 1" contype="2" conaffinity="2"/>
    </body>
    <body name="cube" pos="0 0 {CUBE_HALF}">
      <freejoint name="cube"/>
      <geom name="cube" type="box" size="{CUBE_HALF} {CUBE_HALF} {CUBE_HALF}" mass="0.1"
            rgba="0.9 0.2 0.2 1" friction="0.5 0.005 0.0001" contype="3" conaffinity="3"/>
    </body>
    <body name="goal" mocap="true" pos="0 0 0.0005">
      <geom name="goal" type="cylinder" size="{GOAL_TOLERANCE} 0.0005" rgba="0.2 0.8 0.2 0.6"
            contype="0" conaffinity="0"/>
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


class MujocoPushCubeScene(MujocoScene):
    """Named accessors over the PushCube model; 20 Hz control (10 physics steps of 5 ms)."""

    def __init__(self, frame_skip: int = 10) -> None:
        super().__init__(mujoco.MjModel.from_xml_string(XML), frame_skip, CAMERAS, LABELS)
        m = self.model
        self._pusher_q = [int(m.joint(n).qposadr[0]) for n in ("pusher_x", "pusher_y")]
        self._pusher_v = [int(m.joint(n).dofadr[0]) for n in ("pusher_x", "pusher_y")]
        self._cube_q = int(m.joint("cube").qposadr[0])
        self._goal_mocap = int(m.body("goal").mocapid[0])
        self._goal = (0.0, 0.0)

    def reset(self, layout: PushCubeLayout) -> None:
        """Place pusher, cube (resting on the table, rotated by yaw) and goal."""
        mujoco.mj_resetData(self.model, self.data)
        q = self.data.qpos
        q[self._pusher_q] = layout.pusher_xy
        half = 0.5 * layout.cube_yaw
        q[self._cube_q:self._cube_q + 7] = (
            *layout.cube_xy, CUBE_HALF, math.cos(half), 0.0, 0.0, math.sin(half))
        self.data.mocap_pos[self._goal_mocap] = (*layout.goal_xy, 0.0005)
        self._goal = (float(layout.goal_xy[0]), float(layout.goal_xy[1]))  # mocap: never moves
        mujoco.mj_forward(self.model, self.data)

    def read(self) -> PushCubeState:
        """Pusher position/velocity, cube position and yaw, goal position."""
        q, v = self._qpos.tolist(), self._qvel.tolist()
        i, (px, py), (vx, vy) = self._cube_q, self._pusher_q, self._pusher_v
        w, x, y, z = q[i + 3:i + 7]
        yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
        return PushCubeState(q[px], q[py], v[vx], v[vy], q[i], q[i + 1], yaw, *self._goal)
